"""Hub checks: a machine without network gets its answer in seconds, not after the client's retries."""

from __future__ import annotations

import time

import pytest

from cxr_lib.errors import ModelLoadError
from cxr_lib.models import hub


def test_offline_flag_means_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False


def test_unreachable_endpoint_is_reported_quickly(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://nonexistent.invalid")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache and the Hub cannot be reached"):
        hub.require_cached_or_reachable("google/medgemma-1.5-4b-it")
    assert time.perf_counter() - started < 10


def test_vlm_and_swin2sr_fail_fast_without_network(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from cxr_lib.models.upscale import load_super_resolver
    from cxr_lib.models.vlm import load_vlm

    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(hub, "is_cached", lambda *a, **k: False)
    for load in (lambda: load_vlm("someone/not-cached-model", device="cpu"), lambda: load_super_resolver("someone/not-cached-sr", device="cpu")):
        started = time.perf_counter()
        with pytest.raises(ModelLoadError, match="make demo"):
            load()
        assert time.perf_counter() - started < 10
