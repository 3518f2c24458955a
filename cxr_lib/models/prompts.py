"""Prompt strategies and languages, turned into MedGemma chat messages.

A strategy is a name for an instruction (:data:`STRATEGIES`); a language adds its "please answer
in …" line, as the reference UI did (the languages and their lines are in :mod:`cxr_lib.languages`).
:func:`build_prompt` gives the text and :func:`build_messages` the chat turn the model sees: following
the MedGemma 1.5 model card, a single user turn with the image first and the text after it, and no
system prompt.

The ``structured`` strategy asks the model to end with a fixed line — ``Final answer: PNEUMONIA``
or ``Final answer: NORMAL`` — kept in English in every language so the label reader can find it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from cxr_lib.errors import PromptError
from cxr_lib.languages import LANGUAGES, get_language, language_code  # noqa: F401 (LANGUAGES, language_code: re-exported)

#: The reference analysis's prompt, verbatim (replicating the experiment needs it word for word).
REFERENCE_PROMPT = (
    "Examine this chest X-ray. 1. Describe the lungs. 2. Describe the heart. "
    "3. Conclude if pneumonia opacities are present."
)

#: The fixed last line of a ``structured`` report, with its two allowed labels.
FINAL_ANSWER_PREFIX = "Final answer:"
FINAL_ANSWER_LABELS = ("PNEUMONIA", "NORMAL")

#: The instruction that ends every ``structured`` prompt (also added to a custom prompt).
STRUCTURED_ENDING = (
    f"End your answer with exactly one final line, either '{FINAL_ANSWER_PREFIX} {FINAL_ANSWER_LABELS[0]}' "
    f"or '{FINAL_ANSWER_PREFIX} {FINAL_ANSWER_LABELS[1]}'."
)

@dataclass(frozen=True)
class PromptStrategy:
    """A prompt strategy: its name, what it asks for, and its instruction text (in English)."""

    name: str
    purpose: str  # what it asks for: the strategies table, help texts
    text: str  # the instruction the model is given
    final_answer_line: bool = False  # ends with the fixed parseable line (a custom prompt under it gets it too)


#: The registry: every prompt strategy by name, in display order. Adding one is adding its entry here.
STRATEGIES: dict[str, PromptStrategy] = {
    strategy.name: strategy
    for strategy in (
        PromptStrategy("reference", "the reference analysis's prompt, verbatim (lungs, heart, conclude on pneumonia opacities)",
                       REFERENCE_PROMPT),
        PromptStrategy("zero-shot", "a bare request to describe the image, no role and no structure", "Describe this chest X-ray."),
        PromptStrategy(
            "radiologist", "a radiologist's role and a Findings / Impression report that states whether pneumonia is present",
            "You are an expert radiologist reading a pediatric chest X-ray. Write a concise report with two "
            "sections. Findings: describe the lungs, the heart and mediastinum, the pleura and the bones. "
            "Impression: one or two sentences that state whether there is pneumonia.",
        ),
        PromptStrategy(
            "structured", "a short report ending with a fixed parseable line: 'Final answer: PNEUMONIA' or 'Final answer: NORMAL'",
            "Examine this chest X-ray. Briefly describe the lungs and the heart, then state your conclusion. " + STRUCTURED_ENDING,
            final_answer_line=True,
        ),
    )
}

#: The reference UI's four preset prompts, verbatim (name → text).
UI_PRESETS: dict[str, str] = {
    "findings and diagnosis": (
        "Describe the key findings in this medical image. Provide one main diagnosis and suggestions for follow-up."
    ),
    "structured analysis": (
        "Analyze this image and provide: 1) Key anatomical structures visible, 2) Any pathological findings, "
        "3) Recommended next steps."
    ),
    "radiology report": "Generate a comprehensive radiology report including: findings, impression, and main diagnosis.",
    "zero-shot": STRATEGIES["zero-shot"].text,
}

#: The yes/no question used for answer scoring (:meth:`cxr_lib.models.vlm.VLM.score`).
SCORE_QUESTION = "Does this chest X-ray show pneumonia? Answer with one word: yes or no."


def prompt_presets() -> dict[str, str]:
    """The app's prompt menu, name → text: the reference UI's presets, then every strategy not among them."""
    return {**UI_PRESETS, **{name: strategy.text for name, strategy in STRATEGIES.items() if name not in UI_PRESETS}}


def check_strategy(strategy: str) -> str:
    """``strategy`` if it is known, else :class:`PromptError` listing the choices."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise PromptError(f"unknown prompt strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    return strategy


def language_line(language: str, strategy: str | None = None) -> str:
    """The line a language (code or name) adds to a prompt: its ``prompt_line`` ("" for English)."""
    line = get_language(language).prompt_line
    if line and strategy in STRATEGIES and STRATEGIES[strategy].final_answer_line:
        line += f" Keep the final line in English, exactly '{FINAL_ANSWER_PREFIX} PNEUMONIA' or '{FINAL_ANSWER_PREFIX} NORMAL'."
    return line


MAX_PROMPT_CHARS = 4000


def clean_prompt(text: Any) -> str:
    """The prompt with control characters removed; :class:`PromptError` if empty or too long."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise PromptError(f"the prompt must be text, got {type(text).__name__}")
    kept = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    kept = kept.strip()
    if not kept:
        raise PromptError("the prompt is empty: write a question or instruction, or pick a strategy or preset")
    if len(kept) > MAX_PROMPT_CHARS:
        raise PromptError(f"the prompt is {len(kept)} characters long: the limit is {MAX_PROMPT_CHARS}; shorten it")
    return kept


def build_prompt(strategy: str, language: str = "en", custom: str | None = None) -> str:
    """The prompt text for a strategy and language.

    ``custom`` replaces the strategy's instruction (e.g. a prompt edited in the UI); the language
    line is still added, and under a strategy with the final answer line (``structured``) its instruction is kept.
    """
    chosen = STRATEGIES[check_strategy(strategy)]
    if custom is not None:
        base = clean_prompt(custom)
        if chosen.final_answer_line and FINAL_ANSWER_PREFIX not in base:
            base += " " + STRUCTURED_ENDING
    else:
        base = chosen.text
    extra = language_line(language, strategy)
    return f"{base}\n{extra}" if extra else base


def build_messages(prompt: str, image: Any | None = None) -> list[dict]:
    """One user turn, image first then text, no system prompt (the MedGemma 1.5 card's form).

    ``image`` (a PIL image), when given, is put in the image item so the processor can read it
    from the messages; without it the item is a placeholder for images passed separately.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError("the prompt is empty: write a question or instruction, or pick a strategy")
    image_item: dict[str, Any] = {"type": "image"}
    if image is not None:
        image_item["image"] = image
    return [{"role": "user", "content": [image_item, {"type": "text", "text": prompt}]}]


def strategy_table() -> list[tuple[str, str, str]]:
    """(name, description, English prompt text) for every strategy, for docs and notebooks."""
    return [(strategy.name, strategy.purpose, strategy.text) for strategy in STRATEGIES.values()]
