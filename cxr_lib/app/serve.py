"""A small OpenAI-compatible server for local use (``cxr serve``), and starting local servers.

The project's reports come from any OpenAI-compatible server (:mod:`cxr_lib.models.endpoint`); on a GPU
that is vLLM (see the book's *Reproduce* page). Two things need a local one:

- **transformers serve** (``transformers serve FOLDER``, transformers' own server, 5.23.0) serves
  the stand-in with images, and the endpoint path's reports through it equal the in-process ones.
  It cannot score answers: its chat handler lists ``logprobs`` and ``top_logprobs`` among the
  fields it ignores (``UNUSED_CHAT_COMPLETION_FIELDS`` in ``transformers/cli/serving/
  chat_completion.py``), so no log-probabilities come back. It has no API-key check either, and
  its ``/v1/models`` lists the hub cache, not the model it was started with.
- **cxr serve** fills those gaps, and only those: it serves one model through
  :class:`cxr_lib.models.vlm.VLM` (the same loading, chat template and generation as the in-process
  path), answers ``logprobs``/``top_logprobs`` for the first token (``max_tokens=1``: answer
  scoring; up to the whole vocabulary, so a stand-in's exact score is recoverable), requires
  ``Authorization: Bearer $CXR_SERVE_API_KEY`` when that variable is set, and lists its model
  in ``/v1/models`` with its folder (``root``), ``revision``, ``max_logprobs``, a ``stand_in``
  flag and how it makes its outputs (``made_with``: dtype, quantisation, attention, device; its
  version is at ``GET /version``, as vLLM's). A ``top_logprobs`` above ``--max-logprobs`` is
  refused in vLLM's words. Requests that arrive together and share settings are run as one batch
  (up to ``max_batch``; greedy only — a sampled request runs alone so its seed reproduces it).
  It takes the project's message form: one user turn, one image (a data URL), then text.

:class:`LocalServer` starts either server on a free port of 127.0.0.1, waits until it answers,
and always stops it (tests, the benchmark, the docs' recipes).
"""


import asyncio
import base64
import binascii
import dataclasses
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from cxr_lib import __version__
from cxr_lib.app.ui import check_port
from cxr_lib.errors import CxrError, ParameterError, ServerError
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.thoughts import THOUGHT_END, THOUGHT_START
from cxr_lib.models.vlm import GenerationSettings, _threads, load_vlm

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.models.vlm import VLM, GenerationSettings

#: The environment variable holding the key ``cxr serve`` requires (never a parameter).
SERVE_API_KEY_ENV = "CXR_SERVE_API_KEY"
DEFAULT_PORT = 8000
DEFAULT_MAX_BATCH = 8
#: How long the batcher waits for more requests to join a batch (seconds).
BATCH_WAIT = 0.02


# --------------------------------------------------------------------------- requests
class RequestError(Exception):
    """A request the server refuses (HTTP status and one-line message)."""

    def __init__(self, status: int, message: str, kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions request, checked: the image, the prompt, settings and scoring fields."""

    image: Any
    prompt: str
    settings: "GenerationSettings"
    logprobs: bool
    top_logprobs: int
    stream: bool


def _decode_image(url: Any) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise RequestError(400, "the image must be a base64 data URL (data:image/png;base64,…); this server reads no remote URLs")
    try:
        raw = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return image.convert("RGB")
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
        raise RequestError(400, f"the image data URL does not hold a readable image ({type(exc).__name__})") from exc


def parse_request(body: Any, *, max_logprobs: int) -> ChatRequest:
    """Check a request body (OpenAI chat completions in the project's form) and read it."""

    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1 or not isinstance(messages[0], dict) \
            or messages[0].get("role") != "user" or not isinstance(messages[0].get("content"), list):
        raise RequestError(400, "this server takes one user turn whose content is a list: one image, then text")
    parts = messages[0]["content"]
    images = [p for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]
    texts = [p for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    if len(images) != 1 or len(images) + len(texts) != len(parts) or parts[0] is not images[0]:
        raise RequestError(400, "this server takes exactly one image (image_url) first, then text, in the user turn")
    image_url = images[0].get("image_url")
    image = _decode_image(image_url.get("url") if isinstance(image_url, dict) else image_url)
    prompt = "\n".join(str(t.get("text", "")) for t in texts).strip()
    if not prompt:
        raise RequestError(400, "the prompt text is empty")

    def number(name: str, default: Any) -> Any:
        value = body.get(name)
        return default if value is None else value

    try:
        temperature = float(number("temperature", 0.0))
        do_sample = temperature > 0
        max_tokens = number("max_completion_tokens", number("max_tokens", 1024))
        settings = GenerationSettings(
            max_new_tokens=int(max_tokens), do_sample=do_sample, temperature=temperature if do_sample else 1.0,
            top_p=float(number("top_p", 1.0)) if do_sample else 1.0, seed=int(number("seed", 0)), batch_size=1,
            min_new_tokens=None if body.get("min_tokens") in (None, 0) else int(body["min_tokens"]),
        )
    except (CxrError, TypeError, ValueError) as exc:
        raise RequestError(400, str(exc)) from exc
    logprobs = bool(body.get("logprobs"))
    try:
        top = int(number("top_logprobs", 0) or 0)
    except (TypeError, ValueError) as exc:
        raise RequestError(400, f"top_logprobs must be an integer, got {body.get('top_logprobs')!r}") from exc
    if logprobs:
        if settings.max_new_tokens != 1:
            raise RequestError(400, "logprobs are given for the first token only: ask with max_tokens=1 (answer scoring)")
        if top < 0:
            raise RequestError(400, f"top_logprobs must be between 0 and {max_logprobs} on this server")
        if top > max_logprobs:  # vLLM's wording (vllm/v1/engine/processor.py), so clients read the cap alike
            raise RequestError(400, f"Requested sample logprobs of {top}, which is greater than max allowed: {max_logprobs}")
    if body.get("n") not in (None, 1):
        raise RequestError(400, "this server makes one choice per request (n=1)")
    return ChatRequest(image, prompt, settings, logprobs, top, bool(body.get("stream")))


def raw_content(generation: Any) -> str:
    """The answer with its thought put back between MedGemma's markers, as an engine would send it
    (the client splits it again with :func:`cxr_lib.models.thoughts.split_text`)."""

    if generation.thought_state == "closed":
        return f"{THOUGHT_START}thought\n{generation.thought}{THOUGHT_END}{generation.text}"
    if generation.thought_state == "unclosed":
        return f"{generation.text}{THOUGHT_START}thought\n{generation.thought}"
    return generation.text


# --------------------------------------------------------------------------- the model's one worker
@dataclass
class _Job:
    kind: str  # "generate" | "logprobs" | "stream"
    key: Any  # jobs with equal keys may share a batch
    request: ChatRequest
    future: Future = field(default_factory=Future)
    on_update: Callable[[Any], None] | None = None


class Batcher:
    """One thread owns the model: it takes queued jobs and runs those with the same kind and settings
    as one batch (up to ``max_batch``, waiting :data:`BATCH_WAIT` for company)."""

    def __init__(self, vlm: "VLM", max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.vlm, self.max_batch = vlm, max_batch
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._stopped = False
        self.batches: list[int] = []  # sizes of the batches run (for tests and the log)
        self._thread = threading.Thread(target=self._loop, name="cxr-serve-model", daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> Future:
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
        return job.future

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()

    def _take(self) -> list[_Job]:
        with self._ready:
            while not self._jobs and not self._stopped:
                self._ready.wait()
            if self._stopped:
                return []
        time.sleep(BATCH_WAIT)  # let requests sent together arrive together
        with self._ready:
            first = self._jobs[0]
            limit = 1 if first.key is None else self.max_batch
            batch = [job for job in self._jobs if job.key == first.key and job.kind == first.kind][:limit] \
                if first.key is not None else [first]
            for job in batch:
                self._jobs.remove(job)
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            self.batches.append(len(batch))
            try:
                results = getattr(self, f"_run_{batch[0].kind}")(batch)
                for job, result in zip(batch, results):
                    job.future.set_result(result)
            except BaseException as exc:  # handed to the requests, which answer with it
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _run_generate(self, batch: list[_Job]) -> list[Any]:
        settings = dataclasses.replace(batch[0].request.settings, batch_size=len(batch))
        return self.vlm.generate([j.request.image for j in batch], [j.request.prompt for j in batch], settings)

    def _run_stream(self, batch: list[_Job]) -> list[Any]:
        (job,) = batch
        last = None
        for update in self.vlm.stream_updates(job.request.image, job.request.prompt, job.request.settings):
            job.on_update(update)
            last = update
        return [last]

    def _token_texts(self, size: int) -> list[str]:
        """Every token id's text (SentencePiece's ``▁`` as a space), computed once."""
        if getattr(self, "_names", None) is None or len(self._names) < size:
            tokens = self.vlm.processor.tokenizer.convert_ids_to_tokens(list(range(size)))
            self._names = [str(t if t is not None else "").replace("\u2581", " ") for t in tokens]
        return self._names

    def _run_logprobs(self, batch: list[_Job]) -> list[dict[str, Any]]:
        """The first token's log-softmax for each request: its argmax and top ``k`` (one forward pass)."""
        import torch


        vlm = self.vlm
        encoded = vlm.encode([j.request.image for j in batch], [j.request.prompt for j in batch])
        with torch.inference_mode(), _threads(vlm._cpu_threads()):  # left padding: the last position is real
            logits = vlm.model(**encoded, logits_to_keep=1).logits[:, -1, :].float()
        logp = torch.log_softmax(logits, dim=-1)
        tokenizer = vlm.processor.tokenizer
        eos = vlm.eos_token_ids()
        names = self._token_texts(logp.shape[-1])
        out = []
        for row, job, mask in zip(logp, batch, encoded["attention_mask"]):
            k = min(job.request.top_logprobs, row.shape[-1])
            values, ids = torch.topk(row, k) if k else (row[:0], torch.zeros(0, dtype=torch.long))
            best = int(torch.argmax(row))
            out.append({
                "token_id": best, "token": names[best], "logprob": float(row[best]),
                "top": list(zip([names[i] for i in ids.tolist()], values.tolist())),
                "text": tokenizer.decode([best], skip_special_tokens=True), "eos": best in eos,
                "prompt_tokens": int(mask.sum()),
            })
        return out


# --------------------------------------------------------------------------- the app
def _error(status: int, message: str, kind: str = "BadRequestError") -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def _fast_json_response(json_response: type) -> type:
    """A JSON response written by orjson when it is installed (gradio brings it): a whole vocabulary of
    log-probabilities is ~15 MB of JSON, which orjson writes ~15× faster. (FastAPI's own ``ORJSONResponse``
    is deprecated.)"""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json_response

    class OrjsonResponse(json_response):
        def render(self, content: Any) -> bytes:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)

    return OrjsonResponse


def build_app(vlm: "VLM", *, served_name: str | None = None, max_batch: int = DEFAULT_MAX_BATCH,
              max_logprobs: int | None = None) -> Any:
    """The FastAPI app serving ``vlm``: ``/health``, ``/v1/models``, ``/v1/chat/completions``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    json_response = _fast_json_response(JSONResponse)


    vlm.load()
    name = served_name or vlm.model_id
    vocab = int(vlm.model.get_output_embeddings().weight.shape[0])
    limit = vocab if max_logprobs is None else max(0, min(int(max_logprobs), vocab))
    created = int(time.time())
    batcher = Batcher(vlm, max_batch)
    app = FastAPI(title="cxr serve")
    app.state.batcher = batcher

    entry = {"id": name, "object": "model", "created": created, "owned_by": "cxr_lib", "root": vlm.source or vlm.model_id,
             "revision": vlm.revision, "stand_in": bool(vlm.is_stand_in), "max_logprobs": limit,
             "made_with": vlm.made_with()}
    if vlm.is_stand_in:
        entry["stand_in_label"] = STAND_IN_LABEL

    @app.middleware("http")
    async def require_key(request: Request, call_next: Any) -> Any:
        key = os.environ.get(SERVE_API_KEY_ENV, "")
        if key and request.url.path.startswith("/v1"):
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                status = 401
                return _error(status, "missing or wrong API key: send Authorization: Bearer <key>", "AuthenticationError")
        return await call_next(request)

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    @app.get("/version")
    async def version() -> Any:  # as vLLM's GET /version
        return {"version": __version__}

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the request body is not JSON")
        asked = body.get("model") if isinstance(body, dict) else None
        if asked not in (None, name, vlm.model_id, vlm.source):
            return _error(404, f"The model `{asked}` does not exist.", "NotFoundError")
        try:
            parsed = await asyncio.to_thread(parse_request, body, max_logprobs=limit)
        except RequestError as exc:
            return _error(exc.status, exc.message, exc.kind)
        rid = "chatcmpl-" + uuid.uuid4().hex[:16]
        if parsed.stream:
            return StreamingResponse(_stream(batcher, parsed, rid, name), media_type="text/event-stream")
        kind = "logprobs" if parsed.logprobs else "generate"
        key = None if parsed.settings.do_sample else (kind, parsed.settings, parsed.top_logprobs if parsed.logprobs else 0)
        future = batcher.submit(_Job(kind, key, parsed))
        try:
            result = await asyncio.wrap_future(future)
        except CxrError as exc:
            return _error(400, str(exc))
        return json_response(_completion(kind, result, rid, name))

    return app


def _completion(kind: str, result: Any, rid: str, name: str) -> dict[str, Any]:
    """The chat-completion body for a generation or a first-token log-probability result."""
    if kind == "logprobs":
        content = {"token": result["token"], "logprob": result["logprob"],
                   "top_logprobs": [{"token": t, "logprob": v} for t, v in result["top"]]}
        message, finish = {"role": "assistant", "content": result["text"]}, ("stop" if result["eos"] else "length")
        usage = {"prompt_tokens": result["prompt_tokens"], "completion_tokens": 1}
        logprobs: dict[str, Any] | None = {"content": [content]}
    else:
        message = {"role": "assistant", "content": raw_content(result)}
        finish = "length" if result.stop_reason == "max_new_tokens" else "stop"
        usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.new_tokens}
        logprobs = None
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": logprobs}], "usage": usage}


async def _stream(batcher: Batcher, parsed: ChatRequest, rid: str, name: str) -> Any:
    """Server-sent events: answer deltas as ``content``, thought deltas as ``reasoning_content``."""
    loop = asyncio.get_running_loop()
    updates: asyncio.Queue = asyncio.Queue()
    job = _Job("stream", None, parsed, on_update=lambda u: loop.call_soon_threadsafe(updates.put_nowait, u))
    future = batcher.submit(job)
    future.add_done_callback(lambda _: loop.call_soon_threadsafe(updates.put_nowait, None))

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> str:
        payload = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()), "model": name,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage:
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = {"content": "", "reasoning_content": ""}
    final = None
    while True:
        update = await updates.get()
        if update is None:
            break
        final = update.generation or final
        delta = {}
        for field_name, now in (("content", update.answer), ("reasoning_content", update.thought)):
            if now.startswith(sent[field_name]) and len(now) > len(sent[field_name]):
                delta[field_name] = now[len(sent[field_name]):]
                sent[field_name] = now
        if delta:
            yield chunk(delta)
    if future.exception() is not None:
        yield f"data: {json.dumps({'error': {'message': str(future.exception())}})}\n\n"
        return
    if final is not None:
        usage = {"prompt_tokens": final.prompt_tokens, "completion_tokens": final.new_tokens,
                 "total_tokens": final.prompt_tokens + final.new_tokens}
        yield chunk({}, "length" if final.stop_reason == "max_new_tokens" else "stop", usage)
    yield "data: [DONE]\n\n"


def serve(model: str | os.PathLike, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, device: str | None = None,
          served_name: str | None = None, max_batch: int = DEFAULT_MAX_BATCH, max_logprobs: int | None = None,
          revision: str | None = None, log: Callable[[str], None] = print) -> None:
    """Load ``model`` (hub id or folder) and serve it until interrupted (``cxr serve``)."""
    import uvicorn


    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ParameterError(f"max_batch must be an integer ≥ 1, got {max_batch!r}")
    check_port(host, port)  # fail before the model loads
    vlm = load_vlm(model, revision=revision, device=device)
    app = build_app(vlm, served_name=served_name, max_batch=max_batch, max_logprobs=max_logprobs)
    if vlm.is_stand_in:
        log(f"*** {STAND_IN_LABEL} ***")
    key = " (API key required: $" + SERVE_API_KEY_ENV + ")" if os.environ.get(SERVE_API_KEY_ENV) else ""
    log(f"cxr serve: serving {served_name or vlm.model_id} at http://{host}:{port}/v1{key} (Ctrl-C to stop)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=True)
    finally:
        app.state.batcher.stop()


# --------------------------------------------------------------------------- starting local servers
def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def transformers_serve_available() -> str | None:
    """``None`` when ``transformers serve`` can run here, else why not (one line)."""
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError as exc:  # pragma: no cover
        return f"transformers has no serve command ({exc})"
    if not is_serve_available():
        return "transformers serve needs its extra: pip install 'transformers[serving]'"
    return None


def transformers_serve_command(model: str | os.PathLike, port: int, device: str = "cpu") -> list[str]:
    """``transformers serve MODEL`` on 127.0.0.1:``port`` (the model preloaded, on ``device``)."""
    return [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--device", device, "--log-level", "warning"]


def cxr_serve_command(model: str | os.PathLike, port: int, *extra: str) -> list[str]:
    """``cxr serve MODEL`` on 127.0.0.1:``port``."""
    return [sys.executable, "-m", "cxr_lib", "serve", str(model), "--host", "127.0.0.1", "--port", str(port), *extra]


@dataclass
class LocalServer:
    """A server process on 127.0.0.1, started by :meth:`start` and always stopped by :meth:`stop` (or ``with``)."""

    command: list[str]
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def log_text(self) -> str:
        """Everything the server wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def requests(self, path: str = "/v1/chat/completions") -> int:
        """How many requests to ``path`` the server's access log shows (uvicorn's log lines)."""
        return sum(1 for line in self.log_text().splitlines() if f'"POST {path} ' in line or f'"GET {path} ' in line)

    @classmethod
    def start(cls, command_for: Callable[[int], Sequence[str]], log_path: str | os.PathLike, *,
              env: dict[str, str] | None = None, timeout: float = 180.0, retries_left: int = 2) -> "LocalServer":
        """Start ``command_for(port)`` on a free port; return once ``/health`` answers (else stop it and raise)."""
        import atexit

        import httpx

        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
                       "PYTHONUNBUFFERED": "1", **(env or {})}
        port = free_port()
        command = [str(part) for part in command_for(port)]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                       start_new_session=True)
        server = cls(command, port, process, log_path)
        atexit.register(server.stop)  # stopped even when the caller never reaches its own stop
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                text = server.log_text()
                if "address already in use" in text.lower() and retries_left > 0:  # the port was taken meanwhile
                    return cls.start(command_for, log_path, env=env, timeout=timeout, retries_left=retries_left - 1)
                tail = text.strip().splitlines()[-3:]
                raise ServerError(f"the server exited with status {process.returncode} before answering: "
                                  f"{' | '.join(tail)[-300:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        server.stop()
        raise ServerError(f"the server did not answer on port {port} within {timeout:g} s: see {log_path}")

    def stop(self, grace: float = 10.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL after ``grace`` seconds) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
