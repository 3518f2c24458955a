"""Which model: a hub id at a revision, or a local folder named by its folder name and content.

Records and cache keys name the model that made them (:class:`ModelRef`). A hub model is its id and
the commit its files come from (read from the local cache without network when known). A model
folder on this machine is named by its folder name and a digest of its content — every
configuration, tokenizer and weight file — never by its absolute path: the same folder moved or
copied elsewhere keeps its records, a changed weight file gets new ones, and no record says where
on which machine it was built. The digest reads every byte once per process (a few seconds for
MedGemma's 8.6 GB, a fraction of a second for the stand-in).

Cheap: no torch, no transformers.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cxr_lib.errors import ModelLoadError
from cxr_lib.models.provenance import is_stand_in

#: The prefix of a local folder's revision (its content digest); such a revision is never sent to the hub.
LOCAL_REVISION_PREFIX = "local-"
#: Files of a model folder that determine what it computes (the rest, e.g. a README, do not).
_CONTENT_SUFFIXES = (".json", ".jinja", ".model", ".safetensors", ".bin", ".txt")
_DIGESTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


@dataclass(frozen=True)
class ModelRef:
    """A model as records name it (``name``, ``revision``), whether it is a stand-in, and where it is
    loaded from (``source``: the hub id, or the folder's absolute path)."""

    name: str
    revision: str | None
    stand_in: bool
    source: str

    @property
    def is_local(self) -> bool:
        """Whether the model is a folder on this machine."""
        return self.revision is not None and self.revision.startswith(LOCAL_REVISION_PREFIX)


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") != 1 or model.endswith("/")


def content_digest(folder: str | os.PathLike) -> str:
    """A local folder's revision: ``local-`` and 16 hex digits of a SHA-256 over the names and bytes
    of its configuration, tokenizer and weight files (memoised per process by size and modification time)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _CONTENT_SUFFIXES)
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    memo = (str(folder.resolve()), stamp)
    if memo not in _DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        _DIGESTS[memo] = LOCAL_REVISION_PREFIX + digest.hexdigest()[:16]
    return _DIGESTS[memo]


def cached_revision(model: str, revision: str | None = None) -> str | None:
    """The commit a hub model's files would come from, read from the local cache (no network).

    A 40-hex ``revision`` is returned as is; a branch or tag is looked up in the cache's refs;
    ``None`` when the model is not cached.
    """
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return None
    ref = Path(constants.HF_HUB_CACHE) / ("models--" + model.replace("/", "--")) / "refs" / (revision or "main")
    try:
        sha = ref.read_text().strip()
    except OSError:
        return None
    return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None


def resolve_model(model: str | os.PathLike, revision: str | None = None) -> ModelRef:
    """The :class:`ModelRef` of a hub id or a model folder, without loading anything.

    A folder must hold ``config.json``; a name that is neither an existing folder nor ``owner/name``
    raises :class:`ModelLoadError`.
    """
    text = str(model).strip()
    if not text:
        raise ModelLoadError("the model name is empty: pass a hub id such as google/medgemma-1.5-4b-it or a model folder")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{path} is a file, not a model folder: pass the folder that holds config.json")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json, so it is not a model folder: pass a folder saved with save_pretrained (or a hub id)")
        folder = path.resolve()
        return ModelRef(folder.name, content_digest(folder), is_stand_in(folder), str(folder))
    if _looks_like_path(text):
        raise ModelLoadError(f"model folder {text} does not exist, and it is not a hub id (owner/name): check the path")
    return ModelRef(text, cached_revision(text, revision) or revision, False, text)
