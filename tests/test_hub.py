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


# --------------------------------------------------------------------------- proxies
class FakeSocket:
    """A socket that records where it was opened and what was sent, and answers with ``reply``."""

    def __init__(self, address, reply: bytes) -> None:
        self.address, self.reply, self.sent = address, reply, b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        return self.reply[:size]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


@pytest.fixture()
def sockets(monkeypatch: pytest.MonkeyPatch):
    """``socket.create_connection`` replaced: each call recorded, answered by the reply set in ``replies``."""
    import socket

    opened: list[FakeSocket] = []
    replies = {"reply": b"HTTP/1.1 200 Connection established\r\n\r\n", "refuse": False}

    def connect(address, timeout=None):
        if replies["refuse"]:
            raise ConnectionRefusedError(111, "Connection refused")
        opened.append(FakeSocket(address, replies["reply"]))
        return opened[-1]

    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(socket, "create_connection", connect)
    return opened, replies


def test_without_a_proxy_the_hub_is_reached_directly(sockets):
    opened, _ = sockets
    assert hub.hub_reachable() is True
    assert [s.address for s in opened] == [("huggingface.co", 443)] and opened[0].sent == b""


def test_behind_a_proxy_the_hub_is_reached_through_it(sockets, monkeypatch: pytest.MonkeyPatch):
    """As the hub client does (requests/httpx honour HTTPS_PROXY): a CONNECT through the proxy."""
    opened, replies = sockets
    monkeypatch.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.internal:3128")
    assert hub.hub_reachable() is True
    (connection,) = opened
    assert connection.address == ("proxy.internal", 3128)
    assert connection.sent.startswith(b"CONNECT huggingface.co:443 HTTP/1.1\r\nHost: huggingface.co:443\r\n")
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz\r\n" in connection.sent  # user:p@ss
    replies["reply"] = b"HTTP/1.1 403 Forbidden\r\n\r\n"  # the proxy refuses the hub: unreachable
    assert hub.hub_reachable() is False
    replies["refuse"] = True  # the proxy itself is down
    assert hub.hub_reachable() is False


def test_no_proxy_exempts_the_hub_and_lowercase_names_count(sockets, monkeypatch: pytest.MonkeyPatch):
    opened, _ = sockets
    monkeypatch.setenv("https_proxy", "proxy.internal:8080")
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.mirror.example:8443")
    assert hub.hub_reachable() is True
    assert opened[-1].address == ("proxy.internal", 8080)
    assert opened[-1].sent.startswith(b"CONNECT hub.mirror.example:8443 ")
    monkeypatch.setenv("NO_PROXY", "localhost,.mirror.example")
    assert hub.hub_reachable() is True
    assert opened[-1].address == ("hub.mirror.example", 8443) and opened[-1].sent == b""


def test_proxy_reachability_through_the_loader_check(sockets, monkeypatch: pytest.MonkeyPatch, tmp_path):
    """An uncached model behind a working proxy is not reported unreachable."""
    opened, _ = sockets
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "is_cached", lambda *a, **k: False)
    hub.require_cached_or_reachable("google/medgemma-1.5-4b-it")  # no error
    assert opened and opened[-1].address == ("proxy.internal", 3128)
