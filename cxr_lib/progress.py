"""Progress bars for long loops: tqdm's notebook widget where ipywidgets is installed, text elsewhere.

``tqdm.auto`` alone warns ("IProgress not found", naming the local install path) in a kernel
without ipywidgets, and that warning would land in executed notebooks; this picks the text bar
there instead.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any, Iterable


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """``tqdm(iterable, **kwargs)``: the widget in a notebook with ipywidgets, else the text bar."""
    if find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, **kwargs)
