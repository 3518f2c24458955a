"""Progress bars: text where ipywidgets is missing (no warning naming local paths), widgets where it is present."""

from __future__ import annotations

import warnings

import pytest
from tqdm.std import tqdm as text_bar

from cxr_lib import progress


def test_text_bar_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "find_spec", lambda name: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto would warn "IProgress not found" in a kernel
        bar = progress.progress_bar(range(3), disable=True)
    assert type(bar) is text_bar
    assert list(bar) == [0, 1, 2]


def test_auto_bar_with_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.auto import tqdm as auto_bar

    monkeypatch.setattr(progress, "find_spec", lambda name: object())
    bar = progress.progress_bar(range(2), disable=True)
    assert isinstance(bar, auto_bar)
