"""Reports from an OpenAI-compatible server (vLLM, TGI, SGLang, ``transformers serve``, ``cxr serve``).

:class:`EndpointVLM` is a second backend beside the in-process :class:`cxr_lib.models.vlm.VLM`, with the
same small interface the runner, the notebooks and the app use — ``model_id``, ``revision``,
``is_stand_in``, :meth:`~EndpointVLM.generate`, :meth:`~EndpointVLM.score_answers` /
:meth:`~EndpointVLM.score`, :meth:`~EndpointVLM.stream_updates` / :meth:`~EndpointVLM.stream` —
so records, cache keys and resuming work the same whichever backend made them. Open one with
:func:`open_endpoint` (or :func:`cxr_lib.models.backends.open_vlm` with ``endpoint=URL``).

**Requests.** Each image is one chat-completions request with the message of
:func:`cxr_lib.models.prompts.build_messages` — one user turn, the image first (a PNG data URL, lossless,
so the server sees the pixels the in-process path sees), then the prompt. Requests run
concurrently, at most ``concurrency`` at once across all callers (the server batches them);
greedy by default (``temperature=0``), ``temperature``/``top_p``/``seed`` only when sampling.
Timeouts are per request; HTTP 408/429/5xx and dropped connections are retried with exponential
backoff (``Retry-After`` honoured); everything else becomes one :class:`EndpointError` line.

**Answers.** ``content`` is split into answer and thought on MedGemma's markers
(:func:`cxr_lib.models.thoughts.split_text`); a server that returns the thought apart
(``reasoning_content`` / ``reasoning``) has it kept as the thought. ``finish_reason == "length"``
is a cut-off report; token counts come from ``usage``.

**Answer scoring** asks :data:`cxr_lib.models.prompts.SCORE_QUESTION` with ``max_tokens=1``,
``logprobs`` and ``top_logprobs`` and reads the first answer token's list: each answer's
log-probability is the log-sum-exp over the spellings of :data:`cxr_lib.models.vlm.YES_SPELLINGS` /
:data:`~cxr_lib.models.vlm.NO_SPELLINGS` found there, and P(pneumonia) = P(yes) / (P(yes) + P(no)), as
:meth:`cxr_lib.models.vlm.VLM.score_answers` computes from the logits. It is exact when every spelling is
in the list; a spelling outside the top ``top_logprobs`` is below the list's smallest entry and is
left out, and an answer with no spelling in the list is taken at that smallest entry (a bound).
P(thought) is ``<unused94>``'s probability when listed, else ``None``. A server that returns no
log-probabilities (``transformers serve`` 5.23 ignores the fields) stops scoring with one line.

**Which model, which revision, stand-in or not** (:func:`served_identity`): the model is the name
asked for, else the server's only model, else the one a request without a name is answered by.
Records are keyed by that name — by the absolute folder and its fingerprint when it names a model
folder on this machine, exactly as the in-process path keys it — and by the revision the server
reports (a ``revision`` field in ``/v1/models``, or a ``name@revision`` id), else the one passed.
The served model is a stand-in when its folder here carries the stand-in marker, when the server
says so (``"stand_in": true`` in its ``/v1/models`` entry, as ``cxr serve`` does), or when its
name or path says so (``stand-in``, ``stand_in``): a false alarm only adds a banner, a miss would
present random output as a finding.

**Secrets.** The API key is read from ``$CXR_ENDPOINT_API_KEY``, else ``$OPENAI_API_KEY``; it is
never a parameter, never in a URL (refused), and never in a record, a message or a log.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from cxr_lib.data.images import to_pil
from cxr_lib.errors import EndpointError, GenerationError, ParameterError
from cxr_lib.models.prompts import SCORE_QUESTION, build_messages
from cxr_lib.models.provenance import is_stand_in
from cxr_lib.models.thoughts import THOUGHT_START, split_text
from cxr_lib.models.vlm import (
    NO_SPELLINGS,
    VLM,
    YES_SPELLINGS,
    AnswerScore,
    Generation,
    GenerationSettings,
    StreamUpdate,
    resolve_model,
)

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.models.vlm import AnswerScore, Generation, GenerationSettings, StreamUpdate

#: Environment variables read for the API key, in order (never a parameter).
API_KEY_ENV = ("CXR_ENDPOINT_API_KEY", "OPENAI_API_KEY")
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 600.0  # seconds per request: a long report behind a full server queue
DEFAULT_RETRIES = 4
#: Top log-probabilities asked for when the server does not say how many it gives (vLLM's and OpenAI's limit).
DEFAULT_TOP_LOGPROBS = 20
#: HTTP statuses worth retrying (timeouts, rate limits, an overloaded or restarting server).
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Words in a served model's name or path that mark it as a stand-in.
STAND_IN_HINTS = ("stand-in", "stand_in", "standin")
_MAX_BACKOFF = 30.0


# --------------------------------------------------------------------------- small helpers
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


def image_data_url(image: Any) -> str:
    """A PNG data URL of ``image`` (PIL image or array, as :func:`cxr_lib.data.images.to_pil` reads it): lossless."""

    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chat_messages(image: Any, prompt: str) -> list[dict[str, Any]]:
    """The OpenAI form of :func:`cxr_lib.models.prompts.build_messages`: one user turn, image first, then text."""

    (turn,) = build_messages(prompt)
    content = []
    for item in turn["content"]:
        if item["type"] == "image":
            content.append({"type": "image_url", "image_url": {"url": image_data_url(image)}})
        else:
            content.append({"type": "text", "text": item["text"]})
    return [{"role": turn["role"], "content": content}]


def sampling_fields(settings: "GenerationSettings") -> dict[str, Any]:
    """Request fields for ``settings``: greedy is ``temperature=0``; sampling adds ``top_p`` and ``seed``."""
    fields: dict[str, Any] = {"max_tokens": settings.max_new_tokens}
    if settings.do_sample:
        fields.update(temperature=float(settings.temperature), top_p=float(settings.top_p))
        if settings.seed is not None:
            fields["seed"] = int(settings.seed)
    else:
        fields["temperature"] = 0.0
    if settings.min_new_tokens:
        fields["min_tokens"] = int(settings.min_new_tokens)  # vLLM's extension; other servers refuse it
    return fields


def _server_message(response: Any, secret: str | None) -> str:
    """The error text a server sent (OpenAI, FastAPI or plain), one line, at most 200 characters."""
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


def _loads(raw: bytes) -> Any:
    """JSON from bytes (orjson when installed: a whole vocabulary of log-probabilities parses 10× faster)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc


def _normalize_token(token: str) -> str:
    """A token string as text: SentencePiece's ``▁`` is a space."""
    return str(token).replace("\u2581", " ")


# --------------------------------------------------------------------------- identity
@dataclass(frozen=True)
class ServedModel:
    """What the records say about the served model: name to send, id and revision to key by, stand-in flag."""

    request_name: str | None  # the ``model`` field sent; None: the server's default
    model_id: str
    revision: str | None
    is_stand_in: bool
    entry: Mapping[str, Any] = field(default_factory=dict)  # the server's /v1/models entry, if listed


def _local_folder(*names: str | None) -> Path | None:
    for name in names:
        if not name:
            continue
        path = Path(str(name)).expanduser()
        try:
            if path.is_dir() and (path / "config.json").is_file():
                return path
        except OSError:
            continue
    return None


def served_identity(name: str, entry: Mapping[str, Any] | None = None, revision: str | None = None,
                    request_name: str | None = None) -> ServedModel:
    """The model id, revision and stand-in flag for a served model (see the module docstring)."""

    entry = dict(entry or {})
    base, suffix = name, None
    if "@" in name and not name.startswith("@"):
        base, _, suffix = name.rpartition("@")  # transformers serve names models ``id@revision``
    reported = entry.get("revision") or (suffix if suffix and suffix != "main" else None)
    root = entry.get("root") if isinstance(entry.get("root"), str) else None
    folder = _local_folder(base, root)
    stand_in = bool(entry.get("stand_in") is True or (folder is not None and is_stand_in(folder))
                    or any(hint in text.lower() for hint in STAND_IN_HINTS for text in (name, root or "")))
    if folder is not None:
        model_id, local_revision, _ = resolve_model(folder)
        known = reported or local_revision
    else:
        model_id, known = base, reported
    if revision and known and revision != known:
        raise EndpointError(f"the server serves {model_id} at revision {known}, not {revision}: "
                            "drop the revision or restart the server at the one you want")
    return ServedModel(request_name, model_id, known or revision, stand_in, entry)


# --------------------------------------------------------------------------- the backend
@dataclass(eq=False)
class EndpointVLM:
    """MedGemma behind an OpenAI-compatible server; built by :func:`open_endpoint` (see the module docstring)."""

    base_url: str
    model_id: str
    revision: str | None
    is_stand_in: bool
    request_name: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    top_logprobs: int = DEFAULT_TOP_LOGPROBS
    entry: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _client: Any = field(default=None, repr=False)
    _slots: Any = field(default=None, repr=False)
    _sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _reached: bool = field(default=False, repr=False)  # answered once: later connection failures are retried
    _listed_names: list[str] = field(default_factory=list, repr=False)  # the server's /v1/models ids

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ParameterError(f"concurrency must be an integer ≥ 1, got {self.concurrency!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise ParameterError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ParameterError(f"retries must be an integer ≥ 0, got {self.retries!r}")
        if isinstance(self.top_logprobs, bool) or not isinstance(self.top_logprobs, int) or self.top_logprobs < 1:
            raise ParameterError(f"top_logprobs must be an integer ≥ 1, got {self.top_logprobs!r}")
        self._slots = threading.BoundedSemaphore(self.concurrency)
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                timeout=httpx.Timeout(float(self.timeout), connect=min(10.0, float(self.timeout))),
                limits=httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2),
            )

    # ---- what the rest of the package reads (as on cxr_lib.models.vlm.VLM)
    loaded = True  # nothing to load: a run answered from the cache asks the server nothing more
    load_in_4bit = False
    dtype = "served"

    @property
    def device(self) -> str:
        """Where reports are made: the endpoint (``cxr_lib.models.vlm.model_card`` records it)."""
        return self.base_url

    def load(self) -> None:
        """Nothing to load (the server holds the weights)."""

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # ---- HTTP
    def _headers(self) -> dict[str, str]:
        key = api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _fail(self, response: Any, *, has_image: bool) -> EndpointError:
        """One line for a refused request, by what the server said."""
        status = response.status_code
        message = _server_message(response, api_key())
        lower = message.lower()
        where = f"the server at {self.base_url}"
        if status in (401, 403):
            if api_key() is None:
                return EndpointError(f"{where} wants an API key (HTTP {status}): export {API_KEY_ENV[0]} "
                                     f"(or {API_KEY_ENV[1]}) in the shell that runs this")
            return EndpointError(f"{where} refused the API key in ${_key_source()} (HTTP {status}): check it")
        if has_image and status in (400, 413, 415, 422) and any(
                word in lower for word in ("image", "multimodal", "multi-modal", "mm_", "vision", "modalit")):
            return EndpointError(f"{where} refused the image ({message}): serve an image-text-to-text model "
                                 "such as MedGemma, allowing one image per prompt")
        if "pinned" in lower or ("model" in lower and (status == 404 or "does not exist" in lower
                                                       or "not found" in lower or "unknown model" in lower)):
            name = self.request_name or self.model_id
            return EndpointError(f"{where} does not serve model {name!r} ({message}): pass one it serves "
                                 f"({_listed(self)}) or leave the model out")
        if status == 404:
            return EndpointError(f"{where} has no OpenAI chat API ({message}): the URL should be the API base, "
                                 "e.g. http://127.0.0.1:8000/v1")
        if status == 413:
            return EndpointError(f"{where} refused a request as too large ({message}): raise its body size limit")
        return EndpointError(f"{where} refused the request (HTTP {status}: {message})")

    def _backoff(self, attempt: int, response: Any = None) -> None:
        delay = min(_MAX_BACKOFF, 0.5 * 2 ** attempt)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                delay = min(60.0, max(0.0, float(header)))
            except ValueError:
                pass
        self._sleep(delay * (1.0 + 0.25 * random.random()))

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
                 has_image: bool = False, retries: int | None = None) -> dict[str, Any]:
        """One JSON request with retries; returns the parsed body or raises :class:`EndpointError`."""
        import httpx

        url = self.base_url + path
        last, status = "", None
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                with self._slots:
                    response = self._client.request(method, url, json=payload, headers=self._headers())
            except httpx.ConnectError as exc:
                if attempt == 0 and not self._reached:
                    raise EndpointError(f"cannot reach the server at {self.base_url} ({_reason(exc)}): start it "
                                        "(e.g. `vllm serve …` or `cxr serve MODEL`) or fix the endpoint URL") from exc
                last = f"connection failed ({_reason(exc)})"
                status = None
            except httpx.TimeoutException as exc:
                last = f"no answer within {self.timeout:g} s ({type(exc).__name__})"
                status = None
            except httpx.TransportError as exc:
                last = f"connection dropped ({_reason(exc)})"
                status = None
            else:
                self._reached = True
                if response.status_code < 400:
                    try:
                        body = _loads(response.content)
                    except ValueError as exc:
                        raise EndpointError(f"the server at {self.base_url} sent something that is not JSON for "
                                            f"{method} {path}: is the URL an OpenAI-compatible API?") from exc
                    if not isinstance(body, dict):
                        raise EndpointError(f"the server at {self.base_url} sent an unexpected answer to {method} {path}")
                    return body
                if response.status_code not in RETRY_STATUSES:
                    raise self._fail(response, has_image=has_image)
                status = response.status_code
                last = f"HTTP {status}: {_server_message(response, api_key())}"
                if attempt < retries:
                    self._backoff(attempt, response)
                continue
            if attempt < retries:
                self._backoff(attempt)
        error = EndpointError(f"the server at {self.base_url} failed {retries + 1} time(s) ({last}): "
                              "check its log, lower the concurrency, or raise the timeout")
        error.status = status  # the last HTTP status, or None (no answer)
        raise error

    def _chat(self, image: Any, prompt: str, fields: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"messages": chat_messages(image, prompt), **fields}
        if self.request_name is not None:
            payload["model"] = self.request_name
        return self._request("POST", "/chat/completions", payload, has_image=True)

    def _map(self, fn: Callable[[int], Any], n: int) -> list[Any]:
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

    # ---- generation
    def _check(self, images: Sequence[Any], prompts: Sequence[str]) -> None:
        """The in-process path's checks (one prompt per image, none empty): they use nothing of the model."""

        VLM._check_batch(self, images, prompts)  # type: ignore[arg-type]

    def generate(self, images: Sequence[Any], prompts: Sequence[str],
                 settings: "GenerationSettings | None" = None) -> list["Generation"]:
        """Reports for ``images`` (one prompt each), one request per image, concurrently; in order.

        ``settings.batch_size`` is not used (the server batches); ``seconds`` is each request's own time.
        """

        settings = settings or GenerationSettings()
        self._check(images, prompts)
        fields = sampling_fields(settings)

        def one(i: int) -> "Generation":
            started = time.perf_counter()
            body = self._chat(images[i], prompts[i], fields)
            return generation_from_response(body, time.perf_counter() - started, self.base_url)

        return self._map(one, len(images))

    def stream(self, image: Any, prompt: str, settings: "GenerationSettings | None" = None) -> Iterator[str]:
        """One report, yielding the growing answer as it arrives (a thought is not shown)."""
        shown = ""
        for update in self.stream_updates(image, prompt, settings):
            if update.answer and update.answer != shown:
                shown = update.answer
                yield shown

    def stream_updates(self, image: Any, prompt: str,
                       settings: "GenerationSettings | None" = None) -> Iterator["StreamUpdate"]:
        """One report streamed (server-sent events), the answer and the thought apart; the last update
        carries the finished :class:`~cxr_lib.models.vlm.Generation`."""
        import httpx


        settings = settings or GenerationSettings()
        self._check([image], [prompt])
        payload: dict[str, Any] = {"messages": chat_messages(image, prompt), **sampling_fields(settings),
                                   "stream": True, "stream_options": {"include_usage": True}}
        if self.request_name is not None:
            payload["model"] = self.request_name
        started = time.perf_counter()
        content, reasoning, finish, usage = "", "", None, {}
        shown: tuple[str, str, str] | None = None
        done = False
        for attempt in range(self.retries + 1):
            try:
                with self._slots, self._client.stream("POST", self.base_url + "/chat/completions", json=payload,
                                                      headers=self._headers()) as response:
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code in RETRY_STATUSES and attempt < self.retries:
                            self._backoff(attempt, response)
                            continue
                        raise self._fail(response, has_image=True)
                    for chunk in _sse_events(response):
                        if "error" in chunk:
                            raise GenerationError(f"the server at {self.base_url} stopped the report: "
                                                  f"{_error_text(chunk['error'])}")
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        for choice in chunk.get("choices") or []:
                            delta = choice.get("delta") or {}
                            content += delta.get("content") or ""
                            reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
                            finish = choice.get("finish_reason") or finish
                        now = _split_parts(split_text(content), reasoning, finish)
                        if now != shown and (now[0] or now[1]):
                            shown = now
                            yield StreamUpdate(*now)
                done = True
                break
            except httpx.ConnectError as exc:
                raise EndpointError(f"cannot reach the server at {self.base_url} ({_reason(exc)}): start it or fix "
                                    "the endpoint URL") from exc
            except httpx.TimeoutException as exc:
                raise EndpointError(f"the server at {self.base_url} sent nothing for {self.timeout:g} s: raise the "
                                    "timeout or check the server") from exc
        if not done:
            raise EndpointError(f"the server at {self.base_url} stayed busy for {self.retries + 1} tries: "
                                "check its log or try again later")
        generation = _generation(content, reasoning, finish, usage, time.perf_counter() - started)
        yield StreamUpdate(generation.text, generation.thought, generation.thought_state, generation)

    # ---- scoring
    def score(self, images: Sequence[Any], batch_size: int = 8) -> list[float]:
        """P(pneumonia) for each image from the first answer token's log-probabilities."""
        return [answer.p_pneumonia for answer in self.score_answers(images, batch_size)]

    def score_answers(self, images: Sequence[Any], batch_size: int = 8) -> list["AnswerScore"]:
        """P(pneumonia) and P(thought) for each image (see the module docstring); ``batch_size`` is not used."""

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
        first = min(self.top_logprobs, DEFAULT_TOP_LOGPROBS)

        def ask(image: Any, k: int) -> dict[str, float]:
            fields = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": k}
            return first_token_logprobs(self._chat(image, SCORE_QUESTION, fields), self.base_url)

        def one(i: int) -> "AnswerScore":
            table, asked = ask(images[i], first), first
            if not answers_listed(table) and self.top_logprobs > first:  # the server offers more: ask for them
                table, asked = ask(images[i], self.top_logprobs), self.top_logprobs
            return answer_score(table, self.base_url, asked)

        return self._map(one, len(images))

    # ---- opening
    def check_images(self) -> None:
        """Ask once with and once without an image: a server that drops the image (a text-only model
        behind a lenient server) is refused here, before any report."""
        fields = {"max_tokens": 1, "temperature": 0.0}
        with_image = self._chat(_probe_image(), "Describe this chest X-ray.", fields)
        payload: dict[str, Any] = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this chest X-ray."}]}],
                                   **fields}
        if self.request_name is not None:
            payload["model"] = self.request_name
        try:
            without = self._request("POST", "/chat/completions", payload)
        except EndpointError:
            return  # a server that insists on an image clearly reads it
        seen = (with_image.get("usage") or {}).get("prompt_tokens")
        plain = (without.get("usage") or {}).get("prompt_tokens")
        if isinstance(seen, int) and isinstance(plain, int) and seen <= plain:
            raise EndpointError(f"the server at {self.base_url} ignores images: {self.model_id} read the same "
                                f"{seen} prompt tokens with and without one; serve an image-text-to-text model such as MedGemma")


def _key_source() -> str:
    return next((name for name in API_KEY_ENV if os.environ.get(name, "").strip()), API_KEY_ENV[0])


def _listed(vlm: EndpointVLM) -> str:
    return ", ".join(vlm._listed_names[:5]) if vlm._listed_names else "see GET /v1/models"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:120]


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error)
    return " ".join(str(error).split())[:200]


def _sse_events(response: Any) -> Iterator[dict[str, Any]]:
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


def _split_parts(split: Any, reasoning: str, finish: str | None) -> tuple[str, str, str]:
    """(answer, thought, state) from a split of ``content`` and any thought the server sent apart."""
    thought, state = split.thought, split.state
    reasoning = reasoning.strip()
    if reasoning:
        thought = reasoning if not thought else reasoning + "\n\n" + thought
        if state == "none":
            state = "unclosed" if finish == "length" and not split.answer.strip() else "closed"
    return split.answer, thought, state


def _generation(content: str, reasoning: str, finish: str | None, usage: Mapping[str, Any], seconds: float) -> "Generation":
    answer, thought, state = _split_parts(split_text(content), reasoning or "", finish)
    return Generation(
        text=answer, stop_reason="max_new_tokens" if finish == "length" else "eos",
        new_tokens=int(usage.get("completion_tokens") or 0), prompt_tokens=int(usage.get("prompt_tokens") or 0),
        seconds=seconds, thought=thought, thought_state=state,
    )


def _first_choice(body: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise EndpointError(f"the server at {where} answered without a choice: is it an OpenAI-compatible chat API?")
    return choices[0]


def generation_from_response(body: Mapping[str, Any], seconds: float, where: str = "the endpoint") -> "Generation":
    """A :class:`~cxr_lib.models.vlm.Generation` from a chat-completions response (see the module docstring)."""
    choice = _first_choice(body, where)
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return _generation(message.get("content") or "", reasoning, choice.get("finish_reason"), body.get("usage") or {},
                       seconds)


def first_token_logprobs(body: Mapping[str, Any], where: str = "the endpoint") -> dict[str, float]:
    """Token text → log-probability at the first answer position (the chosen token and ``top_logprobs``)."""
    choice = _first_choice(body, where)
    logprobs = choice.get("logprobs")
    entries = (logprobs.get("content") or []) if isinstance(logprobs, dict) else []
    if not entries or not isinstance(entries[0], dict):
        raise EndpointError(f"the server at {where} returned no log-probabilities, so answer scoring cannot run: "
                            "use a server that returns them (vLLM, TGI, `cxr serve`; transformers serve ignores "
                            "`logprobs`) or turn scoring off (score=False, no --score)")
    first = entries[0]
    table: dict[str, float] = {}
    for item in [first, *(first.get("top_logprobs") or [])]:
        if not isinstance(item, dict) or "token" not in item or item.get("logprob") is None:
            continue
        token = _normalize_token(item["token"])
        value = float(item["logprob"])
        if math.isfinite(value):
            table[token] = max(value, table.get(token, -math.inf))
    if not table:
        raise EndpointError(f"the server at {where} returned an empty log-probability list: it cannot score answers")
    return table


def answers_listed(table: Mapping[str, float]) -> bool:
    """Whether every yes and no spelling is in ``table`` (the score is then exact)."""

    return all(spelling in table for spelling in (*YES_SPELLINGS, *NO_SPELLINGS))


def answer_score(table: Mapping[str, float], where: str = "the endpoint",
                 asked: int = DEFAULT_TOP_LOGPROBS) -> "AnswerScore":
    """P(pneumonia) and P(thought) from first-token log-probabilities (see the module docstring)."""

    yes = [table[s] for s in YES_SPELLINGS if s in table]
    no = [table[s] for s in NO_SPELLINGS if s in table]
    if not yes and not no:
        raise EndpointError(f"neither 'yes' nor 'no' is among the {len(table)} most likely first tokens the server at "
                            f"{where} returned (asked for {asked}): ask for more (top_logprobs; vLLM: --max-logprobs)")
    floor = min(table.values())  # anything unlisted is at most this likely

    def lse(values: list[float]) -> float:
        if not values:
            return floor
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    p_yes = 1.0 / (1.0 + math.exp(lse(no) - lse(yes)))
    thought = table.get(THOUGHT_START)
    return AnswerScore(p_yes, None if thought is None else math.exp(thought))


# --------------------------------------------------------------------------- opening
def _models(vlm: EndpointVLM) -> list[dict[str, Any]]:
    """The server's ``/v1/models`` entries; none when the listing itself fails on the server's side
    (``transformers serve`` answers 500 when it has no hub cache to list)."""
    try:
        body = vlm._request("GET", "/models", retries=0)
    except EndpointError as exc:
        if (getattr(exc, "status", None) or 0) >= 500:
            return []
        raise
    data = body.get("data")
    return [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)] \
        if isinstance(data, list) else []


def open_endpoint(
    url: str,
    model: str | os.PathLike | None = None,
    *,
    revision: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    top_logprobs: int | None = None,
    check: bool = True,
) -> EndpointVLM:
    """Connect to the OpenAI-compatible server at ``url`` and find what it serves.

    ``model``: the name to ask for (default: the server's only or default model). ``revision``: the
    one to record when the server does not report one (a mismatch with what it reports is refused).
    ``concurrency``: requests in flight at once. ``timeout``: seconds per request. ``retries``: on
    408/429/5xx and dropped connections. ``top_logprobs``: how many first-token log-probabilities
    answer scoring asks for (default: the server's advertised ``max_logprobs``, else 20).
    ``check``: one probe request with an image and one without, so an unreachable server, a wrong
    model name, a missing API key or a server that ignores images fails here in one line.
    """
    base = normalize_url(url)
    name = None if model is None or not str(model).strip() else str(model).strip()
    probe = EndpointVLM(base_url=base, model_id=name or "?", revision=None, is_stand_in=False, request_name=name,
                        concurrency=concurrency, timeout=timeout, retries=retries,
                        top_logprobs=top_logprobs or DEFAULT_TOP_LOGPROBS)
    try:
        listed = _models(probe)
        probe._listed_names = [entry["id"] for entry in listed]
        entry: dict[str, Any] = {}
        if name is not None:
            entry = next((e for e in listed if e["id"] == name or e.get("root") == name), {})
            if not entry and _local_folder(name) is not None:  # a folder named by another spelling of its path
                wanted = str(Path(name).expanduser().resolve())
                entry = next((e for e in listed if _local_folder(e.get("root"), e["id"]) is not None and str(
                    _local_folder(e.get("root"), e["id"]).resolve()) == wanted), {})
        elif len(listed) == 1:
            entry, name = listed[0], listed[0]["id"]
        served_name = name
        if served_name is None and check:  # several or none listed: ask the server's default model
            answer = probe._chat(_probe_image(), "Describe this chest X-ray.", {"max_tokens": 1, "temperature": 0.0})
            served_name = answer.get("model") if isinstance(answer.get("model"), str) else None
        if served_name is None:
            names = ", ".join(probe._listed_names[:5]) or "none listed"
            raise EndpointError(f"the server at {base} does not say which model it serves ({names}): name it "
                                "(--model / vlm_model)")
        identity = served_identity(served_name, entry, revision, request_name=name)
        advertised = entry.get("max_logprobs")
        vlm = EndpointVLM(
            base_url=base, model_id=identity.model_id, revision=identity.revision, is_stand_in=identity.is_stand_in,
            request_name=name, concurrency=concurrency, timeout=timeout, retries=retries,
            top_logprobs=top_logprobs or (int(advertised) if isinstance(advertised, int) and advertised > 0
                                          else DEFAULT_TOP_LOGPROBS),
            entry=entry, _client=probe._client, _reached=True, _listed_names=probe._listed_names,
        )
        if check:
            vlm.check_images()
        return vlm
    except BaseException:
        probe.close()
        raise


def _probe_image() -> Any:
    from PIL import Image

    return Image.new("RGB", (64, 64), (128, 128, 128))
