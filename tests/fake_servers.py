"""Small OpenAI-compatible servers on 127.0.0.1 that reproduce what vLLM and TGI do, quirks included.

Each fake answers ``GET /v1/models``, its server's identity route and ``POST /v1/chat/completions``
as the real server documents or is reported to, and nothing more. Sources, per behaviour:

- **vLLM, Gemma 3 in float16** answers with an empty ``content`` and ``finish_reason`` ``"length"``
  (vLLM issue 14817, "Gemma-3 models output empty text"), or with ``content`` filled with ``<pad>``
  (vLLM issue 18733, served with ``--dtype float16``; a maintainer: "Gemma3 has numerical
  instability when using float16"). vLLM refuses bfloat16 on a T4 and suggests ``--dtype half``.
- **vLLM's log-probability cap**: ``top_logprobs`` above ``--max-logprobs`` (20 by default) is refused
  with HTTP 400 and "Requested sample logprobs of N, which is greater than max allowed: M"
  (``_validate_logprobs`` in ``vllm/v1/engine/processor.py``). ``GET /version`` answers
  ``{"version": …}`` and ``/v1/models`` entries say ``"owned_by": "vllm"`` (vLLM's OpenAI server).
- **TGI's cap**: ``top_n_tokens`` (what its chat API reads ``top_logprobs`` into) above
  ``--max-top-n-tokens`` (5 by default) is refused with HTTP 422 and
  ``{"error": "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 20",
  "error_type": "validation"}`` (``ValidationError::TopNTokens`` in TGI's ``router/src/validation.rs``).
  ``GET /info`` answers TGI's ``Info`` (``model_id``, ``model_dtype``, ``model_device_type``,
  ``version``, …; ``router/src/lib.rs``).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

#: First-token log-probabilities of a model answering "Yes" to the scoring question (natural log).
ANSWER_LOGPROBS = {"Yes": math.log(0.55), "No": math.log(0.25), "yes": math.log(0.06), " Yes": math.log(0.04),
                   "no": math.log(0.03), " No": math.log(0.02), "The": math.log(0.01), " yes": math.log(0.004),
                   " no": math.log(0.003), "<unused94>": math.log(0.002)}
#: A visible report with its verdict.
REPORT = "The lungs are clear. No consolidation.\nFinal answer: NORMAL"


def completion(content: str, finish: str = "stop", prompt_tokens: int = 300, completion_tokens: int = 12,
               logprobs: Any = None, model: str = "google/medgemma-1.5-4b-it") -> dict[str, Any]:
    """A chat-completions body as vLLM and TGI send it."""
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish,
                         "logprobs": logprobs}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def logprob_body(k: int, table: dict[str, float] = ANSWER_LOGPROBS) -> dict[str, Any]:
    """A ``max_tokens=1`` answer with the top ``k`` first-token log-probabilities of ``table``."""
    ranked = sorted(table.items(), key=lambda item: -item[1])
    top = [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in ranked[:k]]
    return completion(ranked[0][0], "length", completion_tokens=1,
                      logprobs={"content": [{"token": ranked[0][0], "logprob": ranked[0][1], "top_logprobs": top}]})


@dataclass
class Fake:
    """What one fake server does: its kind (``vllm`` or ``tgi``), version, log-probability cap and the
    report it sends; ``requests`` collects what it was sent."""

    kind: str = "vllm"
    version: str = "0.9.1"
    max_logprobs: int = 20
    report: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda body: completion(REPORT))
    dtype: str = "torch.bfloat16"
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def models(self) -> dict[str, Any]:
        owner = "vllm" if self.kind == "vllm" else "google/medgemma-1.5-4b-it"
        return {"object": "list", "data": [{"id": "google/medgemma-1.5-4b-it", "object": "model", "created": 0,
                                            "owned_by": owner, "root": "google/medgemma-1.5-4b-it"}]}

    def get(self, path: str) -> tuple[int, Any]:
        if path == "/v1/models":
            return 200, self.models()
        if path == "/version" and self.kind == "vllm":
            return 200, {"version": self.version}
        if path == "/info" and self.kind == "tgi":
            return 200, {"model_id": "google/medgemma-1.5-4b-it", "model_sha": None, "model_dtype": self.dtype,
                         "model_device_type": "cuda", "model_pipeline_tag": "image-text-to-text",
                         "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4,
                         "max_input_tokens": 8000, "max_total_tokens": 8192, "validation_workers": 2,
                         "max_client_batch_size": 4, "router": "text-generation-router", "version": self.version,
                         "sha": None, "docker_label": None}
        return 404, ({"detail": "Not Found"} if self.kind == "vllm" else {"error": "Not Found"})

    def post(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            if k > self.max_logprobs:
                if self.kind == "tgi":
                    return 422, {"error": f"Input validation error: `top_n_tokens` must be >= 0 and <= "
                                          f"{self.max_logprobs}. Given: {k}", "error_type": "validation"}
                return 400, {"error": {"message": f"Requested sample logprobs of {k}, which is greater than max "
                                                  f"allowed: {self.max_logprobs}", "type": "BadRequestError",
                                       "param": None, "code": 400}}
            return 200, self._with_prompt_tokens(logprob_body(k), body)
        return 200, self._with_prompt_tokens(self.report(body), body)

    @staticmethod
    def _with_prompt_tokens(answer: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The prompt's token count as a server counts it: an image adds its 256 tokens."""
        parts = (body.get("messages") or [{}])[0].get("content") or []
        has_image = any(isinstance(p, dict) and p.get("type") == "image_url" for p in parts)
        usage = dict(answer.get("usage") or {})
        usage["prompt_tokens"] = 300 if has_image else 44
        usage["total_tokens"] = usage["prompt_tokens"] + int(usage.get("completion_tokens") or 0)
        return {**answer, "usage": usage}


class _Handler(BaseHTTPRequestHandler):
    fake: Fake

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.fake.requests.append(("GET", self.path, None))
        self._send(*self.fake.get(self.path))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.fake.requests.append(("POST", self.path, body))
        self._send(*self.fake.post(body))

    def log_message(self, *args: Any) -> None:
        pass


class FakeServer:
    """``with FakeServer(Fake(...)) as url:`` serves the fake on a free port of 127.0.0.1."""

    def __init__(self, fake: Fake) -> None:
        self.fake = fake
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
