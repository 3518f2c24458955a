"""Reports from an OpenAI-compatible server (vLLM, TGI, SGLang, ``transformers serve``, ``cxr serve``).

:class:`EndpointVLM` is a second backend beside the in-process :class:`cxr_lib.models.vlm.VLM`, with the
same small interface the runner, the notebooks and the app use — ``model_id``, ``revision``,
``is_stand_in``, :meth:`~EndpointVLM.made_with`, :meth:`~EndpointVLM.generate`,
:meth:`~EndpointVLM.score_answers` / :meth:`~EndpointVLM.score`, :meth:`~EndpointVLM.stream_updates` /
:meth:`~EndpointVLM.stream` — so records and resuming work the same whichever backend made them, and
their keys say which one did. Open one with :func:`open_endpoint` (or
:func:`cxr_lib.models.backends.open_vlm` with ``endpoint=URL``).

The parts: :mod:`~cxr_lib.models.endpoint_transport` (HTTP, retries, the API key, one-line errors),
:mod:`~cxr_lib.models.endpoint_messages` (requests, reading answers and log-probabilities),
:mod:`~cxr_lib.models.endpoint_identity` (which model, which revision, which server). Requests run
concurrently, at most ``concurrency`` at once across all callers (the server batches them).

**Opening** (``check=True``): a short probe generation with an image must give text — a server
running Gemma 3 in float16 answers with nothing (:mod:`cxr_lib.models.empty_answers`) — and must
read more prompt tokens than the same request without the image (a text-only model behind a lenient
server drops the image without a word).

**Log-probability caps.** Answer scoring asks for the server's advertised ``max_logprobs`` (else
20). A server that refuses that many with a 4xx naming its cap (vLLM's ``--max-logprobs``, TGI's
``--max-top-n-tokens``, 5 by default) is asked again with the cap, which is kept for the rest of
the run and said in each score's note (and so in the record).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from cxr_lib.errors import EmptyAnswerError, EndpointError, GenerationError, ParameterError
from cxr_lib.models.empty_answers import (
    PROBE_NEW_TOKENS,
    PROBE_PROMPT,
    empty_answer_message,
    is_empty_answer,
    probe_image,
)
from cxr_lib.models.endpoint_identity import ServerInfo, local_folder, served_identity, server_info
from cxr_lib.models.endpoint_messages import (
    DEFAULT_TOP_LOGPROBS,
    answer_score,
    answers_listed,
    chat_messages,
    first_token_logprobs,
    generation,
    generation_from_response,
    logprob_cap,
    sampling_fields,
    split_parts,
)
from cxr_lib.models.endpoint_transport import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Transport,
    normalize_url,
)
from cxr_lib.models.prompts import SCORE_QUESTION
from cxr_lib.models.thoughts import split_text
from cxr_lib.models.vlm import VLM, AnswerScore, Generation, GenerationSettings, StreamUpdate


def _error_text(error: Any) -> str:
    import json

    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error)
    return " ".join(str(error).split())[:200]


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
    server: ServerInfo = field(default_factory=ServerInfo)
    transport: Transport | None = field(default=None, repr=False)
    _sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    logprob_cap: int | None = None  # the server's cap on top_logprobs, once it refused more

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ParameterError(f"concurrency must be an integer ≥ 1, got {self.concurrency!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise ParameterError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ParameterError(f"retries must be an integer ≥ 0, got {self.retries!r}")
        if isinstance(self.top_logprobs, bool) or not isinstance(self.top_logprobs, int) or self.top_logprobs < 1:
            raise ParameterError(f"top_logprobs must be an integer ≥ 1, got {self.top_logprobs!r}")
        if self.transport is None:
            self.transport = Transport(self.base_url, self.concurrency, float(self.timeout), self.retries,
                                       model_name=self.request_name or self.model_id, sleep=self._sleep)

    # ---- what the rest of the package reads (as on cxr_lib.models.vlm.VLM)
    loaded = True  # nothing to load: a run answered from the cache asks the server nothing more
    load_in_4bit = False
    dtype = "served"

    @property
    def device(self) -> str:
        """Where reports are made: the endpoint."""
        return self.base_url

    @property
    def configuration(self) -> str:
        """One line: the server and what it reports about its precision and device."""
        made = self.made_with()
        return (f"{made['server']} at {self.base_url}: dtype {made['dtype']}, quantisation {made['quantization']}, "
                f"attention {made['attention']}, device {made['device_kind']}")

    def made_with(self) -> dict[str, str]:
        """How the server's outputs are made, as it reports it (records and their keys carry this)."""
        return self.server.made_with()

    def load(self) -> None:
        """Nothing to load (the server holds the weights)."""

    def close(self) -> None:
        """Close the HTTP connections."""
        self.transport.close()

    def _chat(self, image: Any, prompt: str, fields: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"messages": chat_messages(image, prompt), **fields}
        if self.request_name is not None:
            payload["model"] = self.request_name
        return self.transport.request("POST", "/chat/completions", payload, has_image=True)

    # ---- generation
    def _check(self, images: Sequence[Any], prompts: Sequence[str]) -> None:
        """The in-process path's checks (one prompt per image, none empty): they use nothing of the model."""

        VLM._check_batch(self, images, prompts)  # type: ignore[arg-type]

    def generate(self, images: Sequence[Any], prompts: Sequence[str],
                 settings: GenerationSettings | None = None) -> list[Generation]:
        """Reports for ``images`` (one prompt each), one request per image, concurrently; in order.

        ``settings.batch_size`` is not used (the server batches); ``seconds`` is each request's own time.
        """

        settings = settings or GenerationSettings()
        self._check(images, prompts)
        fields = sampling_fields(settings)

        def one(i: int) -> Generation:
            started = time.perf_counter()
            body = self._chat(images[i], prompts[i], fields)
            return generation_from_response(body, time.perf_counter() - started, self.base_url)

        return self.transport.map(one, len(images))

    def stream(self, image: Any, prompt: str, settings: GenerationSettings | None = None) -> Iterator[str]:
        """One report, yielding the growing answer as it arrives (a thought is not shown)."""
        shown = ""
        for update in self.stream_updates(image, prompt, settings):
            if update.answer and update.answer != shown:
                shown = update.answer
                yield shown

    def stream_updates(self, image: Any, prompt: str,
                       settings: GenerationSettings | None = None) -> Iterator[StreamUpdate]:
        """One report streamed (server-sent events), the answer and the thought apart; the last update
        carries the finished :class:`~cxr_lib.models.vlm.Generation`."""
        settings = settings or GenerationSettings()
        self._check([image], [prompt])
        payload: dict[str, Any] = {"messages": chat_messages(image, prompt), **sampling_fields(settings),
                                   "stream": True, "stream_options": {"include_usage": True}}
        if self.request_name is not None:
            payload["model"] = self.request_name
        started = time.perf_counter()
        content, reasoning, finish, usage = "", "", None, {}
        shown: tuple[str, str, str] | None = None
        for chunk in self.transport.events("/chat/completions", payload):
            if "error" in chunk:
                raise GenerationError(f"the server at {self.base_url} stopped the report: {_error_text(chunk['error'])}")
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                content += delta.get("content") or ""
                reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
                finish = choice.get("finish_reason") or finish
            now = split_parts(split_text(content), reasoning, finish)
            if now != shown and (now[0] or now[1]):
                shown = now
                yield StreamUpdate(*now)
        made = generation(content, reasoning, finish, usage, time.perf_counter() - started)
        yield StreamUpdate(made.text, made.thought, made.thought_state, made)

    # ---- scoring
    def score(self, images: Sequence[Any], batch_size: int = 8) -> list[float]:
        """P(pneumonia) for each image from the first answer token's log-probabilities."""
        return [answer.p_pneumonia for answer in self.score_answers(images, batch_size)]

    def _logprobs(self, image: Any, k: int) -> tuple[dict[str, float], int]:
        """The first answer token's log-probabilities, asking for ``k`` (or the server's cap, once known)."""
        k = min(k, self.logprob_cap or k)
        fields = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": k}
        try:
            return first_token_logprobs(self._chat(image, SCORE_QUESTION, fields), self.base_url), k
        except EndpointError as exc:
            status = getattr(exc, "status", None) or 0
            cap = logprob_cap(getattr(exc, "server_message", ""))
            if not 400 <= status < 500 or cap is None or cap >= k or cap < 1:
                raise
            self.logprob_cap = cap
        return self._logprobs(image, cap)

    def score_answers(self, images: Sequence[Any], batch_size: int = 8) -> list[AnswerScore]:
        """P(pneumonia) and P(thought) for each image (see :mod:`cxr_lib.models.endpoint_messages`);
        ``batch_size`` is not used."""

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
        first = min(self.top_logprobs, DEFAULT_TOP_LOGPROBS)

        def one(i: int) -> AnswerScore:
            table, asked = self._logprobs(images[i], first)
            if not answers_listed(table) and self.top_logprobs > asked and self.logprob_cap is None:
                table, asked = self._logprobs(images[i], self.top_logprobs)  # the server offers more: ask for them
            return answer_score(table, self.base_url, asked, cap=self.logprob_cap)

        return self.transport.map(one, len(images))

    # ---- opening
    def check_images(self) -> None:
        """A short probe with an image must give text, and read more prompt tokens than the same
        request without the image (see the module docstring)."""
        fields = {"max_tokens": PROBE_NEW_TOKENS, "temperature": 0.0}
        with_image = self._chat(probe_image(), PROBE_PROMPT, fields)
        if is_empty_answer(generation_from_response(with_image, 0.0, self.base_url)):
            raise EmptyAnswerError(empty_answer_message(1, 1, f"the server at {self.base_url} ({self.model_id})",
                                                        ("a probe on opening",), served=True))
        payload: dict[str, Any] = {"messages": [{"role": "user", "content": [{"type": "text", "text": PROBE_PROMPT}]}],
                                   **fields, "max_tokens": 1}
        if self.request_name is not None:
            payload["model"] = self.request_name
        try:
            without = self.transport.request("POST", "/chat/completions", payload)
        except EndpointError:
            return  # a server that insists on an image clearly reads it
        seen = (with_image.get("usage") or {}).get("prompt_tokens")
        plain = (without.get("usage") or {}).get("prompt_tokens")
        if isinstance(seen, int) and isinstance(plain, int) and seen <= plain:
            raise EndpointError(f"the server at {self.base_url} ignores images: {self.model_id} read the same "
                                f"{seen} prompt tokens with and without one; serve an image-text-to-text model such as MedGemma")


def _models(transport: Transport) -> list[dict[str, Any]]:
    """The server's ``/v1/models`` entries; none when the listing itself fails on the server's side
    (``transformers serve`` answers 500 when it has no hub cache to list)."""
    try:
        body = transport.request("GET", "/models", retries=0)
    except EndpointError as exc:
        if (getattr(exc, "status", None) or 0) >= 500:
            return []
        raise
    data = body.get("data")
    return [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)] \
        if isinstance(data, list) else []


def _entry_for(name: str, listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``/v1/models`` entry serving ``name`` (its id, its root, or the same folder by another spelling)."""
    entry = next((e for e in listed if e["id"] == name or e.get("root") == name), {})
    if not entry and local_folder(name) is not None:
        wanted = str(Path(name).expanduser().resolve())
        entry = next((e for e in listed if local_folder(e.get("root"), e["id"]) is not None
                      and str(local_folder(e.get("root"), e["id"]).resolve()) == wanted), {})
    return entry


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
    """Connect to the OpenAI-compatible server at ``url`` and find what it serves and what it is.

    ``model``: the name to ask for (default: the server's only or default model). ``revision``: the
    one to record when the server does not report one (a mismatch with what it reports is refused).
    ``concurrency``: requests in flight at once. ``timeout``: seconds per request. ``retries``: on
    408/429/5xx and dropped connections. ``top_logprobs``: how many first-token log-probabilities
    answer scoring asks for (default: the server's advertised ``max_logprobs``, else 20).
    ``check``: a probe generation with an image and a request without one, so an unreachable server,
    a wrong model name, a missing API key, a server that answers with nothing or ignores images fails
    here in one line.
    """
    base = normalize_url(url)
    name = None if model is None or not str(model).strip() else str(model).strip()
    probe = EndpointVLM(base_url=base, model_id=name or "?", revision=None, is_stand_in=False, request_name=name,
                        concurrency=concurrency, timeout=timeout, retries=retries,
                        top_logprobs=top_logprobs or DEFAULT_TOP_LOGPROBS)
    transport = probe.transport
    try:
        listed = _models(transport)
        transport.listed_names = [entry["id"] for entry in listed]
        entry: dict[str, Any] = {}
        if name is not None:
            entry = _entry_for(name, listed)
        elif len(listed) == 1:
            entry, name = listed[0], listed[0]["id"]
        served_name = name
        if served_name is None and check:  # several or none listed: ask the server's default model
            answer = probe._chat(probe_image(), PROBE_PROMPT, {"max_tokens": 1, "temperature": 0.0})
            served_name = answer.get("model") if isinstance(answer.get("model"), str) else None
        if served_name is None:
            names = ", ".join(transport.listed_names[:5]) or "none listed"
            raise EndpointError(f"the server at {base} does not say which model it serves ({names}): name it "
                                "(--model / vlm_model)")
        identity = served_identity(served_name, entry, revision, request_name=name)
        advertised = entry.get("max_logprobs")
        transport.model_name = name or identity.model_id
        vlm = EndpointVLM(
            base_url=base, model_id=identity.model_id, revision=identity.revision, is_stand_in=identity.is_stand_in,
            request_name=name, concurrency=concurrency, timeout=timeout, retries=retries,
            top_logprobs=top_logprobs or (int(advertised) if isinstance(advertised, int) and advertised > 0
                                          else DEFAULT_TOP_LOGPROBS),
            entry=entry, server=server_info(transport, entry), transport=transport,
        )
        if check:
            vlm.check_images()
        return vlm
    except BaseException:
        transport.close()
        raise
