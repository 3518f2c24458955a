"""Progress bars for long loops: tqdm's notebook widget where ipywidgets is installed, text elsewhere.

``tqdm.auto`` alone warns ("IProgress not found", naming the local install path) in a kernel
without ipywidgets, and that warning would land in executed notebooks; this picks the text bar
there instead. Where nobody watches a terminal (an executed notebook, a CI log keeps every
refresh), a text bar refreshes at most every :data:`UNATTENDED_INTERVAL` seconds and a bar inside
another is not drawn.

One bar per loop: the libraries' own bars for work that is not a loop a reader waits on (transformers'
"Loading weights" and "Writing model shards" over a local folder) are switched off with
:func:`library_bars_off`. Drawn inside one of ours they would also move the cursor up (``ESC [A``), which a
kept output shows as ``[A`` fragments.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any, Iterable, Iterator

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


@contextmanager
def library_bars_off() -> Iterator[None]:
    """transformers' (and huggingface_hub's) progress bars off inside, restored after.

    For loading and saving local folders only: a download from the hub keeps its bar (it can take minutes).
    """
    from huggingface_hub import utils as hub
    from transformers.utils import logging

    was_on, hub_was_off = logging.is_progress_bar_enabled(), hub.are_progress_bars_disabled()
    logging.disable_progress_bar()  # turns huggingface_hub's off too
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()  # and huggingface_hub's
        if hub_was_off:
            hub.disable_progress_bars()
        elif not was_on:
            hub.enable_progress_bars()
