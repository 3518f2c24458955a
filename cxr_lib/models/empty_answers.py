"""Empty or pad-only answers: told apart, counted, and never kept as a report.

Gemma 3 (MedGemma's base) overflows in float16 and then answers with nothing: an empty string
with ``finish_reason == "length"`` (vLLM issue 14817), a reply filled with ``<pad>`` (vLLM issue
18733), or, in this process, token id 0 (``<pad>``) at every step (transformers issue 36822). Read
as a report, such an answer is an abstention, and a run of them turns any analysis into "no change"
without a word. So:

- :func:`is_empty_answer` says whether a generation shows any text (its answer or its thought)
  once padding markers are removed;
- :func:`probe_answer` is the check backends run when they open: one short generation on a plain
  image must give text;
- :class:`EmptyAnswerGuard` is what runs use: an empty answer is never turned into a record, a few
  in a row stop the run, and any left at the end stop it too, each time with one line
  (:func:`empty_answer_message`) naming the likely cause and the fix.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from cxr_lib.errors import EmptyAnswerError

#: Consecutive empty answers that stop a run.
EMPTY_ANSWER_LIMIT = 3
#: New tokens the opening probe asks for (enough to get past a thought's opening marker).
PROBE_NEW_TOKENS = 8
PROBE_PROMPT = "Describe this chest X-ray."
#: Text that is padding, not an answer: Gemma's ``<pad>`` and the end markers a server may leave in.
_PADDING = re.compile(r"<pad>|<eos>|<end_of_turn>|<\|endoftext\|>|\ufffd")


def visible_text(text: str) -> str:
    """``text`` without padding markers and white space at its ends."""
    return _PADDING.sub("", text or "").strip()


def is_empty_answer(generation: Any) -> bool:
    """Whether a generation (anything with ``text`` and ``thought``) shows no text at all once padding
    markers are removed. A thought without an answer is not empty (it is read as *thought-only*)."""
    return not (visible_text(getattr(generation, "text", "")) or visible_text(getattr(generation, "thought", "")))


def empty_answer_message(count: int, total: int, where: str, cases: Sequence[Any] = (), *,
                         served: bool = False) -> str:
    """The one line for ``count`` empty answers out of ``total`` from ``where``."""
    listed = ", ".join(str(c) for c in list(cases)[:8]) + (", …" if len(cases) > 8 else "")
    fix = ("serve it in bfloat16 (vllm serve … --dtype bfloat16; TGI --dtype bfloat16) or a 4-bit quantisation"
           if served else "load it in bfloat16 or float32, or in 4-bit (load_in_4bit=True, --4bit)")
    return (f"{where} answered with empty or pad-only text {count} of {total} time(s)"
            + (f" (cases {listed})" if listed else "")
            + ": a Gemma 3 model run in float16 does this (vLLM issues 14817, 18733; transformers issue 36822); "
            + fix + "; nothing was cached for these answers")


def probe_image() -> Any:
    """The image probes show: a plain grey square."""
    from PIL import Image

    return Image.new("RGB", (64, 64), (128, 128, 128))


def probe_answer(generate: Callable[[Any, str, int], Any], where: str, *, served: bool = False) -> None:
    """Ask for :data:`PROBE_NEW_TOKENS` tokens about :func:`probe_image`; raise :class:`EmptyAnswerError`
    when the answer shows no text. ``generate(image, prompt, max_new_tokens)`` returns a generation."""
    generation = generate(probe_image(), PROBE_PROMPT, PROBE_NEW_TOKENS)
    if is_empty_answer(generation):
        raise EmptyAnswerError(empty_answer_message(1, 1, where, ("a probe on opening",), served=served))


class EmptyAnswerGuard:
    """Counts empty answers during a run: :meth:`empty` says whether to skip one (never cache it) and
    raises after :data:`EMPTY_ANSWER_LIMIT` in a row; :meth:`finish` raises if any were skipped."""

    def __init__(self, where: str, *, served: bool = False, limit: int = EMPTY_ANSWER_LIMIT) -> None:
        self.where, self.served, self.limit = where, served, limit
        self.in_a_row = 0
        self.seen = 0
        self.cases: list[Any] = []

    def empty(self, case: Any, generation: Any) -> bool:
        """Whether ``generation`` (for ``case``) is empty; raises :class:`EmptyAnswerError` at the limit."""
        self.seen += 1
        if not is_empty_answer(generation):
            self.in_a_row = 0
            return False
        self.in_a_row += 1
        self.cases.append(case)
        if self.in_a_row >= self.limit:
            raise EmptyAnswerError(empty_answer_message(len(self.cases), self.seen, self.where, self.cases,
                                                        served=self.served))
        return True

    def finish(self) -> None:
        """Raise :class:`EmptyAnswerError` when any answer of the run was empty (none of them was cached)."""
        if self.cases:
            raise EmptyAnswerError(empty_answer_message(len(self.cases), self.seen, self.where, self.cases,
                                                        served=self.served))
