"""Tiny random-weight stand-ins for MedGemma and Swin2SR, built offline from configs.

They are saved to a folder (safetensors) and loaded back through the same ``from_pretrained``
path as the real models, so tests and the offline profile exercise the real loading code.
Every folder carries a marker file; everything a stand-in produces is labelled with
:data:`STAND_IN_LABEL`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STAND_IN_MARKER = "CXR_STAND_IN.json"
STAND_IN_LABEL = "STAND-IN MODEL (tiny, random weights): output is meaningless, not a finding"


def is_stand_in(model: str | os.PathLike | None) -> bool:
    """Whether ``model`` (a folder path or hub id) is a stand-in built by this module."""
    if model is None:
        return False
    path = Path(model)
    return path.is_dir() and (path / STAND_IN_MARKER).is_file()


def mark_stand_in(folder: str | os.PathLike, kind: str, imitates: str) -> Path:
    """Write the marker file that labels ``folder`` as a stand-in for ``imitates``."""
    from cxr_lib.storage import atomic_write_json

    payload = {"stand_in": True, "kind": kind, "imitates": imitates, "label": STAND_IN_LABEL}
    return atomic_write_json(Path(folder) / STAND_IN_MARKER, payload)


def stand_in_info(folder: str | os.PathLike) -> dict:
    """The marker's contents (empty dict for a real model)."""
    marker = Path(folder) / STAND_IN_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else {}
