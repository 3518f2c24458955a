"""Progress bars for long loops: tqdm's notebook widget where ipywidgets is installed, text elsewhere.

``tqdm.auto`` alone warns ("IProgress not found", naming the local install path) in a kernel
without ipywidgets, and that warning would land in executed notebooks; this picks the text bar
there instead. Where nobody watches a terminal (an executed notebook, a CI log keeps every
refresh), a text bar refreshes at most every :data:`UNATTENDED_INTERVAL` seconds and a bar inside
another is not drawn.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from typing import Any, Iterable

#: Seconds between refreshes of a text bar whose output is kept rather than watched.
UNATTENDED_INTERVAL = 30.0


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """``tqdm(iterable, **kwargs)``: the widget in a notebook with ipywidgets, else the text bar."""
    if find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm

        if not _watched():
            kwargs.setdefault("mininterval", UNATTENDED_INTERVAL)
            if tqdm._instances:  # a bar is already running: its own progress is enough
                kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


def _watched() -> bool:
    """Whether the bars go to a terminal someone watches (not a notebook's kept output or a log)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())
