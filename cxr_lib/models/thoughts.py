"""MedGemma 1.5's thinking output: a thought, then the answer, told apart on token ids.

MedGemma 1.5 can open its turn with a thought, ``<unused94>thought`` and free text, closed by
``<unused95>``, after which the answer follows (Google's notebooks split the output on
``<unused95>``). It does so even under greedy decoding, and the closing marker often never comes
before the token budget ends. A thought is working, not the report: it may hold a draft such as
"Final answer: PNEUMONIA" that the answer later changes. So the output is split into

- the **answer**: everything outside a thought (what the label reader reads and the app's report
  box shows);
- the **thought**: the text between the markers, without its leading ``thought`` label (kept in the
  record, shown folded away in the app);
- the **state**: ``"none"`` (no thought), ``"closed"`` (a thought that ended) or ``"unclosed"``
  (the output ends inside a thought). A closing marker without an opening one closes a thought
  that began at the start of the turn, as the notebooks' split reads it.

An output whose answer is empty but that has a thought is *thought-only*: its reading is
``uncertain`` with the rule :data:`THOUGHT_ONLY_RULE`, never a label drawn from the thought.

The split works on token ids (:func:`split_ids`, :func:`decode_split`), because whether
``skip_special_tokens=True`` keeps or drops ``<unused94>`` depends on whether a tokenizer registers
it as special (Gemma 3's does not, so its text stays in the decoded string). :func:`split_text`
does the same on a decoded string, for text that reaches the label reader without its ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

THOUGHT_START = "<unused94>"
THOUGHT_END = "<unused95>"
THOUGHT_STATES = ("none", "closed", "unclosed")
#: The reading rule of an output that never leaves its thought.
THOUGHT_ONLY_RULE = "thought-only"


class EndOfOutput:
    """How an output ended, from its ``stop_reason``, ``thought_state`` and answer ``text`` (a mixin
    for the generation and the record that keeps it)."""

    stop_reason: str
    thought_state: str
    text: str

    @property
    def cut_off(self) -> bool:
        """Whether the output hit ``max_new_tokens`` instead of ending on its own."""
        return self.stop_reason == "max_new_tokens"

    @property
    def thought_only(self) -> bool:
        """Whether the output never left its thought (no answer): read as uncertain, rule ``thought-only``."""
        return self.thought_state != "none" and not self.text.strip()


_LABEL = re.compile(r"^\s*thought\b[ \t]*\n?", re.IGNORECASE)


@dataclass(frozen=True)
class SplitOutput:
    """One output split into its answer and its thought (see the module docstring)."""

    answer: str
    thought: str
    state: str  # one of THOUGHT_STATES

    @property
    def thought_only(self) -> bool:
        """Whether the output has a thought and no answer."""
        return self.state != "none" and not self.answer.strip()


def _split(items: Sequence[Any], start: Any, end: Any) -> tuple[list[Any], list[list[Any]], str]:
    """(answer items, thought item lists, state) for a sequence with ``start``/``end`` markers."""
    items = list(items)
    answer: list[Any] = []
    thoughts: list[list[Any]] = []
    state = "none"
    if end is not None and end in items and (start is None or start not in items[:items.index(end)]):
        cut = items.index(end)  # a thought that began with the turn, closed without an opening marker
        thoughts.append(items[:cut])
        items, state = items[cut + 1:], "closed"
    while start is not None and start in items:
        opening = items.index(start)
        answer += items[:opening]
        rest = items[opening + 1:]
        if end is not None and end in rest:
            closing = rest.index(end)
            thoughts.append(rest[:closing])
            items, state = rest[closing + 1:], "closed"
        else:
            thoughts.append(rest)
            return answer, thoughts, "unclosed"
    answer += [item for item in items if item != end]
    return answer, thoughts, state


def _thought_text(parts: Sequence[str]) -> str:
    return "\n\n".join(_LABEL.sub("", part, count=1).strip() for part in parts if part.strip()).strip()


def split_ids(ids: Sequence[int], start_id: int | None, end_id: int | None) -> tuple[list[int], list[list[int]], str]:
    """(answer ids, each thought's ids, state) of generated token ids, split on the marker ids."""
    return _split(ids, start_id, end_id)


def marker_ids(tokenizer: Any) -> tuple[int | None, int | None]:
    """The ids of ``<unused94>`` and ``<unused95>`` in ``tokenizer`` (``None`` where it has no such token)."""

    def one(token: str) -> int | None:
        try:
            value = tokenizer.convert_tokens_to_ids(token)
        except (KeyError, ValueError, TypeError):
            return None
        if not isinstance(value, int) or value == getattr(tokenizer, "unk_token_id", None):
            return None
        return value

    return one(THOUGHT_START), one(THOUGHT_END)


def decode_split(tokenizer: Any, ids: Sequence[int]) -> SplitOutput:
    """Split generated ``ids`` on the thought markers' ids, then decode each part (special tokens skipped)."""
    start, end = marker_ids(tokenizer)
    answer, thoughts, state = split_ids(ids, start, end)
    text = tokenizer.decode(answer, skip_special_tokens=True)
    # A tokenizer that keeps the markers' text may still hold a stray marker in a part: drop it.
    text = text.replace(THOUGHT_START, "").replace(THOUGHT_END, "").strip()
    parts = [tokenizer.decode(part, skip_special_tokens=True) for part in thoughts]
    return SplitOutput(text, _thought_text(parts), state)


def split_text(text: str) -> SplitOutput:
    """The same split on a decoded string (markers as text)."""
    text = "" if text is None else str(text)
    pattern = f"({re.escape(THOUGHT_START)}|{re.escape(THOUGHT_END)})"
    pieces = [piece for piece in re.split(pattern, text) if piece]
    answer, thoughts, state = _split(pieces, THOUGHT_START, THOUGHT_END)
    return SplitOutput("".join(answer).strip(), _thought_text(["".join(part) for part in thoughts]), state)
