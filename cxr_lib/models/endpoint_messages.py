"""What is sent to an OpenAI-compatible server and how its answers are read.

**Requests.** Each image is one chat-completions request with the message of
:func:`cxr_lib.models.prompts.build_messages` — one user turn, the image first (a PNG data URL,
lossless, so the server sees the pixels the in-process path sees), then the prompt; greedy by
default (``temperature=0``), ``temperature``/``top_p``/``seed`` only when sampling.

**Answers.** ``content`` is split into answer and thought on MedGemma's markers
(:func:`cxr_lib.models.thoughts.split_text`); a server that returns the thought apart
(``reasoning_content`` / ``reasoning``) has it kept as the thought. ``finish_reason == "length"``
is a cut-off report; token counts come from ``usage``.

**Answer scoring** reads the first answer token's ``top_logprobs``: each answer's log-probability is
the log-sum-exp over the spellings of :data:`cxr_lib.models.vlm.YES_SPELLINGS` /
:data:`~cxr_lib.models.vlm.NO_SPELLINGS` found there, and P(pneumonia) = P(yes) / (P(yes) + P(no)),
as :meth:`cxr_lib.models.vlm.VLM.score_answers` computes from the logits. It is exact when every
spelling is in the list; a spelling outside the top ``k`` is below the list's smallest entry and is
left out, and an answer with no spelling in the list is taken at that smallest entry (a bound). The
score's ``note`` names the spellings left out, and the server's cap when it gave fewer than asked.
P(thought) is ``<unused94>``'s probability when listed, else ``None``.

**Log-probability caps.** vLLM refuses more than ``--max-logprobs`` (20 by default) with HTTP 400,
"Requested sample logprobs of N, which is greater than max allowed: M" (``_validate_logprobs`` in
``vllm/v1/engine/processor.py``); TGI refuses more than ``--max-top-n-tokens`` (5 by default) with
HTTP 422, "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: N" (``ValidationError::TopNTokens``
in ``router/src/validation.rs``). :func:`logprob_cap` reads the cap from either message.
"""

from __future__ import annotations

import base64
import io
import math
import re
from typing import TYPE_CHECKING, Any, Mapping

from cxr_lib.data.images import to_pil
from cxr_lib.errors import EndpointError
from cxr_lib.models.prompts import build_messages
from cxr_lib.models.thoughts import THOUGHT_START, split_text
from cxr_lib.models.vlm import NO_SPELLINGS, YES_SPELLINGS, AnswerScore, Generation

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.models.vlm import GenerationSettings

#: Top log-probabilities asked for when the server does not say how many it gives (vLLM's and OpenAI's limit).
DEFAULT_TOP_LOGPROBS = 20
#: A refusal that names the largest log-probability list a server gives (vLLM's and TGI's wording).
_CAP = re.compile(r"(?:logprobs|top_n_tokens|top_logprobs)\W.*?(?:max allowed:|<=|at most|maximum(?: is| of)?)\s*(\d+)",
                  re.IGNORECASE)


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


def _normalize_token(token: str) -> str:
    """A token string as text: SentencePiece's ``▁`` is a space."""
    return str(token).replace("\u2581", " ")


def split_parts(split: Any, reasoning: str, finish: str | None) -> tuple[str, str, str]:
    """(answer, thought, state) from a split of ``content`` and any thought the server sent apart."""
    thought, state = split.thought, split.state
    reasoning = reasoning.strip()
    if reasoning:
        thought = reasoning if not thought else reasoning + "\n\n" + thought
        if state == "none":
            state = "unclosed" if finish == "length" and not split.answer.strip() else "closed"
    return split.answer, thought, state


def generation(content: str, reasoning: str, finish: str | None, usage: Mapping[str, Any], seconds: float) -> Generation:
    """A :class:`~cxr_lib.models.vlm.Generation` from a reply's parts."""
    answer, thought, state = split_parts(split_text(content), reasoning or "", finish)
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


def generation_from_response(body: Mapping[str, Any], seconds: float, where: str = "the endpoint") -> Generation:
    """A :class:`~cxr_lib.models.vlm.Generation` from a chat-completions response (see the module docstring)."""
    choice = _first_choice(body, where)
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return generation(message.get("content") or "", reasoning, choice.get("finish_reason"), body.get("usage") or {},
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


def logprob_cap(message: str) -> int | None:
    """The largest log-probability list a server's refusal says it gives (vLLM, TGI), or ``None``."""
    found = _CAP.search(message or "")
    return int(found.group(1)) if found else None


def answer_score(table: Mapping[str, float], where: str = "the endpoint", asked: int = DEFAULT_TOP_LOGPROBS,
                 cap: int | None = None) -> AnswerScore:
    """P(pneumonia) and P(thought) from first-token log-probabilities (see the module docstring);
    ``cap``: the server's limit when it gave fewer than asked (said in the note)."""

    yes = [table[s] for s in YES_SPELLINGS if s in table]
    no = [table[s] for s in NO_SPELLINGS if s in table]
    if not yes and not no:
        raise EndpointError(f"neither 'yes' nor 'no' is among the {len(table)} most likely first tokens the server at "
                            f"{where} returned (asked for {asked}): ask for more (top_logprobs; vLLM: --max-logprobs, "
                            "TGI: --max-top-n-tokens)")
    floor = min(table.values())  # anything unlisted is at most this likely

    def lse(values: list[float]) -> float:
        if not values:
            return floor
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    p_yes = 1.0 / (1.0 + math.exp(lse(no) - lse(yes)))
    thought = table.get(THOUGHT_START)
    missing = [repr(s) for s in (*YES_SPELLINGS, *NO_SPELLINGS) if s not in table]
    parts = [f"the server gives at most {cap} log-probabilities per token"] if cap is not None else []
    if missing:
        parts.append(f"answer spellings outside the top {asked}: {', '.join(missing)}"
                     + (" (the unlisted answer taken at the smallest listed probability: a bound)" if not yes or not no else ""))
    return AnswerScore(p_yes, None if thought is None else math.exp(thought), "; ".join(parts))
