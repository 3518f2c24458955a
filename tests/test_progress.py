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


def test_unattended_bars_refresh_rarely_and_do_not_nest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "find_spec", lambda name: None)
    monkeypatch.setattr(progress, "_watched", lambda: False)
    outer = progress.progress_bar(range(2), disable=False)
    try:
        assert outer.mininterval == progress.UNATTENDED_INTERVAL and not outer.disable
        inner = progress.progress_bar(range(3), disable=False)
        assert inner.disable and list(inner) == [0, 1, 2]  # not drawn, still iterates
    finally:
        outer.close()
    again = progress.progress_bar(range(1), disable=False)
    assert not again.disable  # the outer bar is closed: a new one is drawn
    again.close()


def test_watched_bars_keep_tqdm_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "find_spec", lambda name: None)
    monkeypatch.setattr(progress, "_watched", lambda: True)
    with progress.progress_bar(range(2), disable=False) as outer, progress.progress_bar(range(2), disable=False) as inner:
        assert outer.mininterval == inner.mininterval == 0.1 and not inner.disable


@pytest.mark.parametrize("enabled", [True, False])
def test_library_bars_are_off_inside_and_restored_after(enabled: bool) -> None:
    from huggingface_hub import utils as hub
    from transformers.utils import logging

    before = logging.is_progress_bar_enabled()
    logging.enable_progress_bar() if enabled else logging.disable_progress_bar()
    try:
        with progress.library_bars_off():
            assert not logging.is_progress_bar_enabled() and hub.are_progress_bars_disabled()
            bar = logging.tqdm(range(3), desc="Loading weights")
            assert isinstance(bar, logging.EmptyTqdm) and list(bar) == [0, 1, 2]  # iterates, draws nothing
        assert logging.is_progress_bar_enabled() is enabled
        assert hub.are_progress_bars_disabled() is not enabled
    finally:
        logging.enable_progress_bar() if before else logging.disable_progress_bar()
