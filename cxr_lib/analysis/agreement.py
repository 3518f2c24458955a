"""Does a server compute what the in-process model computes? N images compared, case by case.

A serving engine is not transformers: Gemma 3 lets an image's tokens attend to each other both ways
(``token_type_ids``), and vLLM's support for that mask has varied by version and attention backend;
prefix caching has mixed images under concurrency for another model (vLLM issue 20261). Nothing in a
server's answers says so. :func:`check_agreement` shows the same ``cases`` test images (default 20,
spread over the split; Lanczos to 224, the ``structured`` prompt, greedy) to the server and to the
model loaded here, and compares for each image:

- the **label** read from each report;
- **P(pneumonia)** from answer scoring (when the server returns log-probabilities);
- the **first differing token** of the two outputs (thought and answer, in the in-process tokenizer's
  tokens): bfloat16 arithmetic and batching move a greedy report late and rarely; a wrong attention
  mask moves most of them at once, from the first tokens.

A case disagrees when its labels differ, its scores differ by more than ``score_tolerance`` (0.05), or
its outputs part before token ``early_tokens`` (16). The server agrees when at most
``max_disagreeing`` of the cases (10%) disagree. Nothing is cached: this is a check, not a run.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.conditions import condition_images
from cxr_lib.analysis.labels import read_report
from cxr_lib.data.datasets import load_split
from cxr_lib.errors import ParameterError
from cxr_lib.models.endpoint import open_endpoint
from cxr_lib.models.endpoint_identity import local_folder
from cxr_lib.models.prompts import build_prompt
from cxr_lib.models.vlm import GenerationSettings, load_vlm
from cxr_lib.storage import atomic_write_json

DEFAULT_CASES = 20
DEFAULT_NEW_TOKENS = 128


@dataclass(frozen=True)
class CaseComparison:
    """One image through both backends."""

    index: int
    label_local: str
    label_served: str
    p_local: float | None
    p_served: float | None
    first_difference: int | None  # token position where the outputs part (None: identical)
    tokens_local: str  # a few tokens from there on, for the eye
    tokens_served: str
    disagrees: bool


@dataclass
class Agreement:
    """The comparison of one server with the in-process model (see the module docstring)."""

    server: str  # what the server is and reports (its configuration line)
    local: str  # the in-process model's configuration line
    model_id: str
    cases: list[CaseComparison] = field(default_factory=list)
    score_tolerance: float = 0.05
    early_tokens: int = 16
    max_disagreeing: float = 0.1
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def disagreeing(self) -> list[CaseComparison]:
        return [case for case in self.cases if case.disagrees]

    @property
    def allowed(self) -> int:
        """How many disagreeing cases are tolerated."""
        return int(math.floor(self.max_disagreeing * len(self.cases) + 1e-9))

    @property
    def agrees(self) -> bool:
        return len(self.disagreeing) <= self.allowed

    def table(self) -> pd.DataFrame:
        """One row per image."""
        return pd.DataFrame([asdict(case) for case in self.cases]).set_index("index")

    def verdict(self) -> str:
        """One line: agrees, or disagrees and what to check."""
        n = len(self.cases)
        if self.agrees:
            return (f"the server agrees with the in-process model on {n - len(self.disagreeing)} of {n} images "
                    f"(at most {self.allowed} may differ)")
        early = sum(1 for c in self.disagreeing if c.first_difference is not None and c.first_difference < self.early_tokens)
        return (f"the server disagrees with the in-process model on {len(self.disagreeing)} of {n} images "
                f"({early} part within the first {self.early_tokens} tokens; at most {self.allowed} may differ): check "
                "its dtype (bfloat16), its attention backend (Gemma 3's bidirectional image mask) and prefix caching, "
                "and run the study in-process until they agree")

    def summary_lines(self) -> list[str]:
        """What was compared and what came out, for the console."""
        n = len(self.cases)
        scored = [c for c in self.cases if c.p_local is not None and c.p_served is not None]
        parted = [c for c in self.cases if c.first_difference is not None]
        lines = [f"server: {self.server}", f"in-process: {self.model_id} ({self.local})",
                 f"labels equal: {sum(c.label_local == c.label_served for c in self.cases)} of {n}",
                 f"outputs identical: {n - len(parted)} of {n}"]
        if parted:
            first = min(parted, key=lambda c: c.first_difference)
            lines.append(f"earliest difference: image {first.index} at token {first.first_difference} "
                         f"({first.tokens_local!r} here, {first.tokens_served!r} served)")
        if scored:
            largest = max(abs(c.p_local - c.p_served) for c in scored)
            lines.append(f"P(pneumonia): largest difference {largest:.4f} over {len(scored)} images "
                         f"(tolerance {self.score_tolerance})")
        lines.append(("AGREES: " if self.agrees else "DISAGREES: ") + self.verdict())
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "local": self.local, "model_id": self.model_id, "agrees": self.agrees,
                "verdict": self.verdict(), "score_tolerance": self.score_tolerance, "early_tokens": self.early_tokens,
                "max_disagreeing": self.max_disagreeing, "settings": self.settings,
                "cases": [asdict(case) for case in self.cases]}


def first_difference(a: Sequence[int], b: Sequence[int]) -> int | None:
    """The first position where two token sequences differ (the shorter one's length when one is a
    prefix of the other), or ``None`` when they are equal."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _tokens(tokenizer: Any, generation: Any) -> list[int]:
    text = (generation.thought + "\n\n" if generation.thought else "") + generation.text
    return list(tokenizer.encode(text, add_special_tokens=False))


def spread_indices(n_images: int, cases: int) -> list[int]:
    """``cases`` indices spread evenly over a split of ``n_images`` (first and last included)."""
    if isinstance(cases, bool) or not isinstance(cases, int) or not 1 <= cases <= n_images:
        raise ParameterError(f"cases must be an integer from 1 to {n_images}, got {cases!r}")
    return sorted({int(round(i)) for i in np.linspace(0, n_images - 1, cases)})


def check_agreement(
    endpoint: str,
    model: str | None = None,
    *,
    local_model: str | os.PathLike | None = None,
    cases: int = DEFAULT_CASES,
    max_new_tokens: int = DEFAULT_NEW_TOKENS,
    device: str | None = None,
    score: bool = True,
    score_tolerance: float = 0.05,
    early_tokens: int = 16,
    max_disagreeing: float = 0.1,
    out: str | os.PathLike | None = None,
) -> Agreement:
    """Compare the server at ``endpoint`` (serving ``model``) with the same model loaded here
    (``local_model``; default the served model's folder or hub id) on ``cases`` test images (see the
    module docstring); write the comparison as JSON to ``out`` when given."""
    served = open_endpoint(endpoint, model)
    try:
        source = local_model or local_folder(served.request_name, served.entry.get("root")) or served.model_id
        revision = None if local_model or str(served.revision or "").startswith("local-") else served.revision
        local = load_vlm(source, revision=revision, device=device)
        test = load_split("test")
        indices = spread_indices(len(test), cases)
        images = condition_images(test, indices, "lanczos", 224, rgb=True)
        prompt = build_prompt("structured", "en")
        settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=local.batch_for(4))
        here = local.generate(images, [prompt] * len(images), settings)
        there = served.generate(images, [prompt] * len(images), settings)
        p_here = [a.p_pneumonia for a in local.score_answers(images, settings.batch_size)] if score else [None] * len(images)
        p_there = [a.p_pneumonia for a in served.score_answers(images)] if score else [None] * len(images)
        tokenizer = local.processor.tokenizer
        result = Agreement(served.configuration, local.configuration, local.model_id, score_tolerance=score_tolerance,
                           early_tokens=early_tokens, max_disagreeing=max_disagreeing,
                           settings={**settings.as_dict(), "cases": len(indices), "condition": "lanczos 224",
                                     "prompt": "structured/en"})
        for index, a, b, pa, pb in zip(indices, here, there, p_here, p_there):
            ta, tb = _tokens(tokenizer, a), _tokens(tokenizer, b)
            at = first_difference(ta, tb)
            la = read_report(a.text, cut_off=a.cut_off, thought_only=a.thought_only).label
            lb = read_report(b.text, cut_off=b.cut_off, thought_only=b.thought_only).label
            differs = (la != lb or (at is not None and at < early_tokens)
                       or (pa is not None and pb is not None and abs(pa - pb) > score_tolerance))
            shown = slice(at or 0, (at or 0) + 4)
            result.cases.append(CaseComparison(
                int(index), la, lb, pa, pb, at, tokenizer.decode(ta[shown]) if at is not None else "",
                tokenizer.decode(tb[shown]) if at is not None else "", bool(differs)))
    finally:
        served.close()
    if out is not None:
        atomic_write_json(out, result.to_json())
    return result
