"""The committed artifacts: results of long runs kept with the package (``cxr_lib/artifacts``).

They travel inside the package, so a clone, a Colab install and an installed wheel find them the
same way. A path that starts with ``artifacts/`` names one of them; any other path is a file or
folder of the user's, taken as given.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The folder that holds the committed artifacts, inside the installed package.
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
#: The prefix that names a committed artifact in parameters and options.
PREFIX = "artifacts/"


def locate(path: str | os.PathLike) -> Path:
    """The file or folder ``path`` names: a committed artifact for ``artifacts/…``, else the path itself."""
    text = Path(path).as_posix()
    if text.startswith(PREFIX):
        return ARTIFACTS_DIR / text[len(PREFIX):]
    return Path(path)


def committed(name: str) -> Path:
    """The committed artifact ``name`` (relative to the artifacts folder), e.g. ``baseline/predictions_test.csv``."""
    return ARTIFACTS_DIR / name


def is_committed(path: str | os.PathLike) -> bool:
    """Whether ``path`` names (or resolves into) the committed artifacts."""
    try:
        locate(path).resolve().relative_to(ARTIFACTS_DIR)
    except ValueError:
        return False
    return True
