"""HTTP to an OpenAI-compatible server: the API key, URLs, retries, timeouts, streams, one-line errors.

:class:`Transport` sends JSON requests with at most ``concurrency`` in flight across all callers.
Timeouts are per request; HTTP 408/429/5xx and dropped connections are retried with exponential
backoff (``Retry-After`` honoured); every other refusal becomes one :class:`~cxr_lib.errors.EndpointError`
line, with the HTTP status and the server's own message kept on the error (``status``,
``server_message``) for callers that can act on them (answer scoring retries a smaller
log-probability list when a server caps it).

**Secrets.** The API key is read from ``$CXR_ENDPOINT_API_KEY``, else ``$OPENAI_API_KEY``; it is
never a parameter, never in a URL (refused), and never in a record, a message or a log.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from cxr_lib.errors import EndpointError

#: Environment variables read for the API key, in order (never a parameter).
API_KEY_ENV = ("CXR_ENDPOINT_API_KEY", "OPENAI_API_KEY")
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 600.0  # seconds per request: a long report behind a full server queue
DEFAULT_RETRIES = 4
#: HTTP statuses worth retrying (timeouts, rate limits, an overloaded or restarting server).
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_BACKOFF = 30.0


def api_key() -> str | None:
    """The API key from the environment (``$CXR_ENDPOINT_API_KEY``, else ``$OPENAI_API_KEY``), or ``None``."""
    for name in API_KEY_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def normalize_url(url: str) -> str:
    """The API base URL: ``http(s)://host:port`` gets ``/v1``; a path given is kept; no trailing slash.

    Refuses anything but http(s), and credentials in the URL (the key belongs in the environment).
    """
    text = str(url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"endpoint {text!r} is not an http(s) URL: pass e.g. http://127.0.0.1:8000/v1")
    if parts.username or parts.password:
        raise EndpointError("the endpoint URL holds credentials: drop them from the URL and export "
                            f"{API_KEY_ENV[0]} instead")
    if parts.query or parts.fragment:
        raise EndpointError(f"endpoint {parts.scheme}://{parts.netloc}{parts.path} has a query or fragment: "
                            "pass the API base only, e.g. http://127.0.0.1:8000/v1")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path or '/v1'}"


def server_root(base_url: str) -> str:
    """The server's root (the API base without its trailing ``/v1``): where ``/version`` and ``/info`` live."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def server_message(response: Any, secret: str | None) -> str:
    """The error text a server sent (OpenAI, FastAPI, TGI or plain), one line, at most 200 characters."""
    text = ""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or json.dumps(error)
        elif isinstance(error, list):
            error = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in error)
        text = str(error) if error is not None else json.dumps(payload)
    if not text:
        text = getattr(response, "text", "") or f"HTTP {response.status_code}"
    line = " ".join(text.split())
    if secret:
        line = line.replace(secret, "***")
    return line[:200]


def loads(raw: bytes) -> Any:
    """JSON from bytes (orjson when installed: a whole vocabulary of log-probabilities parses 10× faster)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc


def reason(exc: BaseException) -> str:
    """An exception's first line, at most 120 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:120]


def _key_source() -> str:
    return next((name for name in API_KEY_ENV if os.environ.get(name, "").strip()), API_KEY_ENV[0])


def sse_events(response: Any) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-events stream (``data: …`` lines), until ``[DONE]``."""
    for line in response.iter_lines():
        line = line.strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        if isinstance(chunk, dict):
            yield chunk


@dataclass(eq=False)
class Transport:
    """JSON over HTTP to one server (see the module docstring). ``model_name`` and ``listed_names`` only
    shape the error lines (which model was asked for, which ones the server lists)."""

    base_url: str
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    model_name: str | None = None
    listed_names: list[str] = field(default_factory=list)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    reached: bool = False  # answered once: later connection failures are retried
    _client: Any = field(default=None, repr=False)
    _slots: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.concurrency)
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                timeout=httpx.Timeout(float(self.timeout), connect=min(10.0, float(self.timeout))),
                limits=httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2),
            )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def headers(self) -> dict[str, str]:
        key = api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def fail(self, response: Any, *, has_image: bool) -> EndpointError:
        """One line for a refused request, by what the server said (``status`` and ``server_message`` kept)."""
        status = response.status_code
        message = server_message(response, api_key())
        error = EndpointError(self._refusal(status, message, has_image))
        error.status, error.server_message = status, message
        return error

    def _refusal(self, status: int, message: str, has_image: bool) -> str:
        lower = message.lower()
        where = f"the server at {self.base_url}"
        if status in (401, 403):
            if api_key() is None:
                return (f"{where} wants an API key (HTTP {status}): export {API_KEY_ENV[0]} "
                        f"(or {API_KEY_ENV[1]}) in the shell that runs this")
            return f"{where} refused the API key in ${_key_source()} (HTTP {status}): check it"
        if has_image and status in (400, 413, 415, 422) and any(
                word in lower for word in ("image", "multimodal", "multi-modal", "mm_", "vision", "modalit")):
            return (f"{where} refused the image ({message}): serve an image-text-to-text model "
                    "such as MedGemma, allowing one image per prompt")
        if "pinned" in lower or ("model" in lower and (status == 404 or "does not exist" in lower
                                                       or "not found" in lower or "unknown model" in lower)):
            listed = ", ".join(self.listed_names[:5]) if self.listed_names else "see GET /v1/models"
            return (f"{where} does not serve model {self.model_name!r} ({message}): pass one it serves "
                    f"({listed}) or leave the model out")
        if status == 404:
            return (f"{where} has no OpenAI chat API ({message}): the URL should be the API base, "
                    "e.g. http://127.0.0.1:8000/v1")
        if status == 413:
            return f"{where} refused a request as too large ({message}): raise its body size limit"
        return f"{where} refused the request (HTTP {status}: {message})"

    def backoff(self, attempt: int, response: Any = None) -> None:
        delay = min(_MAX_BACKOFF, 0.5 * 2 ** attempt)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                delay = min(60.0, max(0.0, float(header)))
            except ValueError:
                pass
        self.sleep(delay * (1.0 + 0.25 * random.random()))

    def request(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
                has_image: bool = False, retries: int | None = None, root: bool = False) -> dict[str, Any]:
        """One JSON request with retries; returns the parsed body or raises :class:`EndpointError`.
        ``root``: ``path`` is under the server's root, not the API base (``/version``, ``/info``)."""
        import httpx

        url = (server_root(self.base_url) if root else self.base_url) + path
        last, status = "", None
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                with self._slots:
                    response = self._client.request(method, url, json=payload, headers=self.headers())
            except httpx.ConnectError as exc:
                if attempt == 0 and not self.reached:
                    raise EndpointError(f"cannot reach the server at {self.base_url} ({reason(exc)}): start it "
                                        "(e.g. `vllm serve …` or `cxr serve MODEL`) or fix the endpoint URL") from exc
                last, status = f"connection failed ({reason(exc)})", None
            except httpx.TimeoutException as exc:
                last, status = f"no answer within {self.timeout:g} s ({type(exc).__name__})", None
            except httpx.TransportError as exc:
                last, status = f"connection dropped ({reason(exc)})", None
            else:
                self.reached = True
                if response.status_code < 400:
                    try:
                        body = loads(response.content)
                    except ValueError as exc:
                        raise EndpointError(f"the server at {self.base_url} sent something that is not JSON for "
                                            f"{method} {path}: is the URL an OpenAI-compatible API?") from exc
                    if not isinstance(body, dict):
                        raise EndpointError(f"the server at {self.base_url} sent an unexpected answer to {method} {path}")
                    return body
                if response.status_code not in RETRY_STATUSES:
                    raise self.fail(response, has_image=has_image)
                status = response.status_code
                last = f"HTTP {status}: {server_message(response, api_key())}"
                if attempt < retries:
                    self.backoff(attempt, response)
                continue
            if attempt < retries:
                self.backoff(attempt)
        error = EndpointError(f"the server at {self.base_url} failed {retries + 1} time(s) ({last}): "
                              "check its log, lower the concurrency, or raise the timeout")
        error.status = status  # the last HTTP status, or None (no answer)
        raise error

    def events(self, path: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST ``payload`` for a server-sent-events answer and yield its JSON chunks; retried like
        :meth:`request` until the first chunk arrives."""
        import httpx

        for attempt in range(self.retries + 1):
            try:
                with self._slots, self._client.stream("POST", self.base_url + path, json=payload,
                                                      headers=self.headers()) as response:
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code in RETRY_STATUSES and attempt < self.retries:
                            self.backoff(attempt, response)
                            continue
                        raise self.fail(response, has_image=True)
                    yield from sse_events(response)
                return
            except httpx.ConnectError as exc:
                raise EndpointError(f"cannot reach the server at {self.base_url} ({reason(exc)}): start it or fix "
                                    "the endpoint URL") from exc
            except httpx.TimeoutException as exc:
                raise EndpointError(f"the server at {self.base_url} sent nothing for {self.timeout:g} s: raise the "
                                    "timeout or check the server") from exc
        raise EndpointError(f"the server at {self.base_url} stayed busy for {self.retries + 1} tries: "
                            "check its log or try again later")

    def map(self, fn: Callable[[int], Any], n: int) -> list[Any]:
        """``fn(i)`` for i < n, concurrently (at most ``concurrency`` requests in flight overall), in order."""
        if n == 1:
            return [fn(0)]
        with ThreadPoolExecutor(max_workers=min(n, self.concurrency), thread_name_prefix="cxr-endpoint") as pool:
            futures = [pool.submit(fn, i) for i in range(n)]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
