"""Whether a model is a stand-in, and the label that goes with everything a stand-in produces.

A stand-in folder (built by :mod:`cxr_lib.models.stand_ins`) carries the marker file
:data:`STAND_IN_MARKER`; :func:`is_stand_in` looks for it, and :data:`STAND_IN_LABEL` is printed,
shown and recorded beside every stand-in output (console, notebook, book, app); :func:`made_by_stand_in`
asks the same of a loaded model, so that tables of real results can leave its outputs out. Standard library
only, so any module can ask without importing the builders or a model.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The file that marks a folder as a stand-in (its contents: :func:`cxr_lib.models.stand_ins.stand_in_info`).
STAND_IN_MARKER = "CXR_STAND_IN.json"
#: Shown with every output a stand-in produces.
STAND_IN_LABEL = "STAND-IN MODEL (tiny, random weights): output is meaningless, not a finding"


def is_stand_in(model: str | os.PathLike | None) -> bool:
    """Whether ``model`` (a folder path or hub id) is a stand-in: a folder holding :data:`STAND_IN_MARKER`."""
    if model is None:
        return False
    path = Path(model)
    return path.is_dir() and (path / STAND_IN_MARKER).is_file()


def made_by_stand_in(model: object | None) -> bool:
    """Whether a loaded model (an upscaler's, a VLM's; ``None`` for no model, e.g. an interpolation) is a
    stand-in, by the mark it was loaded with: what decides whether its outputs may enter a table of real results."""
    return bool(getattr(model, "is_stand_in", False))
