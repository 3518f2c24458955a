"""What a profile will run, and what it will cost, before anything is loaded (``cxr book --plan``).

:func:`profile_plan` reads a profile and each notebook's own defaults, builds the case sets exactly as
the notebooks will (from the CNN's committed predictions, the review cut-off chosen on validation and
the data's high-resolution reference), and counts per notebook step the images, prompts, reports
and answer scores MedGemma is asked for — reports with the same cache key in two notebooks counted
once — with the most new tokens they may take (every report running to ``max_new_tokens``).

:func:`estimate` turns the counts into GPU time and memory on common cards for MedGemma 1.5 4B in this
process (with ``vlm_endpoint``: on the server, at its concurrency; serving engines batch better, so an
upper bound):

- **measured**: on an H200 by ``cxr bench --device cuda`` (``cxr_lib/artifacts/bench/bench_cuda.json``,
  MedGemma's real architecture): one decode step (72 ms at batch 1, about 40 times the memory-bandwidth
  bound: launch overhead, not bandwidth, sets it), one scoring forward pass per image (83 ms), and
  Swin2SR images per second;
- **scaled** to the T4, L4, A100 and H100: the measured overhead kept, plus the card's own roofline
  time from its datasheet (:data:`cxr_lib.models.device_plan.CARDS`): weights read per step over its
  memory bandwidth, a forward pass's floating-point work over 40% of its peak throughput, in the
  precision :func:`cxr_lib.models.device_plan.choose` picks for it (a T4: 4-bit weights, float32
  compute, each step dequantising every weight to float32, the overhead counted twice);
- **memory**: :func:`cxr_lib.models.device_plan.choose`'s estimate at the batch the profile asks for,
  or the largest that fits.

These are estimates for planning, not results; the CNN, the fidelity tables and the reader (CPU work
or committed files) are not counted.
"""

from __future__ import annotations

import ast
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cxr_lib import study
from cxr_lib.data.artifacts import committed
from cxr_lib.data.datasets import REFERENCE_CASES, load_hr_reference, load_split
from cxr_lib.languages import check_languages
from cxr_lib.models.device_plan import CARDS, GIB, PROMPT_TOKENS, ModelShape, choose, estimate_memory, kv_bytes
from cxr_lib.models.prompts import STRATEGIES
from cxr_lib.models.upscale import INTERPOLATIONS
from cxr_lib.tooling.bench.configs import FULL
from cxr_lib.tooling.book import NOTEBOOKS, BookProject, Profile, load_profile, notebook_parameters

#: Share of a card's peak throughput a forward pass is taken to reach.
EFFICIENCY = 0.4
#: The bench run the estimate is measured from, and the card it ran on.
BENCH_FILE = "bench/bench_cuda.json"
MEASURED_CARD = "H200"
#: The cards the estimate is given for, in order (the measured one last).
PLAN_CARDS = ("T4", "L4", "A100", "H100", MEASURED_CARD)


@dataclass(frozen=True)
class Step:
    """One run of the VLM in a notebook: a condition and one or more prompts over some images."""

    notebook: str
    what: str
    condition: str
    prompts: tuple[tuple[str, str], ...]  # (strategy, language) pairs
    indices: tuple[int, ...]
    max_new_tokens: int
    batch_size: int
    score: bool

    def keys(self) -> set[tuple]:
        """The cache identities of its reports (equal ones in two notebooks are run once)."""
        return {(i, self.condition, strategy, language, self.max_new_tokens, self.batch_size)
                for i in self.indices for strategy, language in self.prompts}


@dataclass
class Plan:
    """The steps a profile runs, with its endpoint (if any) and agreement check."""

    profile: str
    steps: list[Step] = field(default_factory=list)
    endpoint: str | None = None
    concurrency: int = 8
    agreement_cases: int = 0
    stand_ins: bool = False

    def table(self) -> pd.DataFrame:
        """One row per step: images, reports new to the run, scores, new tokens at most."""
        seen: set[tuple] = set()
        rows = []
        for step in self.steps:
            new = step.keys() - seen
            seen |= new
            rows.append({"notebook": step.notebook, "step": step.what, "images": len(step.indices),
                         "prompts": len(step.prompts), "reports": len(new), "scored": len(new) if step.score else 0,
                         "new tokens ≤": len(new) * step.max_new_tokens, "batch": step.batch_size})
        return pd.DataFrame(rows)

    def totals(self) -> dict[str, int]:
        table = self.table()
        learned = sum(len(s.indices) for s in self.steps if s.condition not in (*INTERPOLATIONS, "hr"))
        return {"reports": int(table["reports"].sum()), "scored": int(table["scored"].sum()),
                "new_tokens": int(table["new tokens ≤"].sum()), "prompt_tokens": int(table["reports"].sum()) * PROMPT_TOKENS,
                "upscaled": learned}


def _defaults(project: BookProject, notebook: str) -> dict[str, Any]:
    """A notebook's parameters as its ``parameters`` cell sets them."""
    import papermill

    values = {}
    for name, spec in papermill.inspect_notebook(str(project.notebook(notebook))).items():
        try:
            values[name] = ast.literal_eval(str(spec.get("default")))
        except (ValueError, SyntaxError):
            values[name] = None
    return values


def profile_plan(root: str | os.PathLike, profile: str | os.PathLike) -> Plan:
    """The steps of ``profile`` in the project at ``root`` (see the module docstring); loads no model."""
    project = BookProject.at(root)
    chosen: Profile = load_profile(project.profile_path(profile))
    subs = {"results": "results/plan", "stand_ins": "results/plan/stand_ins"}
    params = {nb: {**_defaults(project, nb), **notebook_parameters(chosen, nb, subs)} for nb in NOTEBOOKS}
    first = params[NOTEBOOKS[0]]
    plan = Plan(chosen.name, endpoint=first.get("vlm_endpoint"), concurrency=int(first.get("endpoint_concurrency") or 8),
                agreement_cases=int((chosen.agreement or {}).get("cases") or 0), stand_ins=chosen.stand_ins)
    test = load_split("test", data_dir=first.get("data_dir"))
    for notebook in NOTEBOOKS[:2]:
        p = params[notebook]
        predictions = study.cnn_predictions(p.get("cnn_predictions") or study.DEFAULT_PREDICTIONS, data_dir=p.get("data_dir"))
        cutoff = study.review_cutoff(p.get("cnn_validation") or study.DEFAULT_VALIDATION, data_dir=p.get("data_dir")) \
            if study.REVIEW_SET in p["case_sets"] else None
        cases = study.select_cases(p["case_sets"], test, predictions, p.get("cnn_predictions"), p.get("max_cases_per_set"),
                                   int(p.get("correct_sample_size") or 100), int(p.get("seed") or 0), review=cutoff)
        indices = study.all_indices(cases)
        common = dict(notebook=notebook, max_new_tokens=int(p["max_new_tokens"]), batch_size=int(p["batch_size"]))
        if notebook == NOTEBOOKS[0]:
            conditions = ["lanczos"]
        else:
            indices = load_hr_reference(p.get("data_dir")).available(indices)
            conditions = list(p["conditions"])
        for condition in conditions:
            plan.steps.append(Step(what=f"{condition} · {p['prompt_strategy']}/{p['language']}", condition=condition,
                                   prompts=((p["prompt_strategy"], p["language"]),), indices=tuple(indices),
                                   score=bool(p["score"]), **common))
        for condition in (["lanczos"] if notebook == NOTEBOOKS[0] else ["lanczos", "swin2sr"]):
            plan.steps.append(Step(what=f"earlier analysis's cases · {condition} · reference/en", condition=condition,
                                   prompts=(("reference", "en"),), indices=REFERENCE_CASES, score=False, **common))
    p = params[NOTEBOOKS[2]]
    strategies = list(STRATEGIES) if p["strategies"] is None else list(p["strategies"])  # None: every registered one
    languages = check_languages(p["languages"])
    prompts = tuple((s, language) for s in strategies for language in languages)
    plan.steps.append(Step(NOTEBOOKS[2], f"prompt grid · {p['upscaler']} · {len(strategies)} strategies × "
                           f"{len(languages)} languages", p["upscaler"], prompts, tuple(p["cases"]),
                           int(p["max_new_tokens"]), len(p["cases"]), False))
    return plan


def _bench() -> dict[str, float]:
    """The measured rates the estimate starts from (see the module docstring)."""
    workloads = json.loads(committed(BENCH_FILE).read_text())["workloads"]
    decode = workloads["decode"]["bfloat16"]
    return {"step": float(decode["seconds_per_token"]), "bandwidth": float(workloads["bandwidth"]["bound_uses_gb_per_s"]) * 1e9,
            "prefill": float(workloads["scoring"]["score_seconds_per_image"]),
            "swin2sr": 1.0 / float(workloads["swin2sr"]["batched_images_per_s"])}


def _flops_per_image(shape: ModelShape, prompt_tokens: int = PROMPT_TOKENS) -> float:
    """Floating-point work of one forward pass over an image and its prompt."""
    counts = shape.parameters()
    vision_linear = shape.vision_layers * (4 * shape.vision_hidden ** 2 + 2 * shape.vision_hidden * shape.vision_intermediate)
    attention = 4 * shape.vision_layers * shape.patches ** 2 * shape.vision_hidden
    return 2.0 * vision_linear * shape.patches + attention + 2.0 * (counts["linear"] - vision_linear) * prompt_tokens


def estimate(plan: Plan) -> pd.DataFrame:
    """GPU time and memory of ``plan`` on :data:`PLAN_CARDS` (see the module docstring)."""
    shape = ModelShape.from_config({"text_config": FULL.text, "vision_config": FULL.vision,
                                    "mm_tokens_per_image": FULL.mm_tokens_per_image})
    rates = _bench()
    reference = CARDS[MEASURED_CARD]
    flops = _flops_per_image(shape)
    bf16_weights = estimate_memory(shape, "bfloat16", False, 1).weights
    step_overhead = rates["step"] - bf16_weights / rates["bandwidth"]
    prefill_overhead = rates["prefill"] - flops / (reference.bf16_tflops * 1e12 * EFFICIENCY)
    tokens = max((s.max_new_tokens for s in plan.steps), default=1)
    asked = max((s.batch_size for s in plan.steps), default=1)
    served = plan.endpoint is not None
    rows = []
    for name in PLAN_CARDS:
        card = CARDS[name]
        if served and card.bf16_tflops is None:
            continue  # a server on such a card runs Gemma 3 in float16, which empties its answers (see plan_text)
        config = choose(card.gpu(), shape, max_new_tokens=tokens, can_4bit=True)
        batch = config.batch_for(plan.concurrency if served else asked)
        four_bit = config.load_in_4bit
        tflops = (card.bf16_tflops if config.dtype == "bfloat16" and card.bf16_tflops else card.fp32_tflops) * 1e12
        weights_read = estimate_memory(shape, config.dtype, four_bit, 1).weights
        if four_bit:  # every weight dequantised to the compute dtype, written and read again, at each step
            weights_read += 2 * shape.parameters()["linear"] * (4 if config.dtype == "float32" else 2)
        kv = kv_bytes(shape, config.dtype, PROMPT_TOKENS + tokens // 2)  # a sequence's cache, on average while decoding
        per_step = step_overhead * (2 if four_bit else 1) + (weights_read + batch * kv) / (card.bandwidth_gb_s * 1e9)
        per_image = prefill_overhead * (2 if four_bit else 1) + flops / (tflops * EFFICIENCY)
        seen: set[tuple] = set()
        seconds = 0.0
        for step in plan.steps:
            new = len(step.keys() - seen)
            seen |= step.keys()
            run_batch = config.batch_for(plan.concurrency if served else step.batch_size)
            seconds += math.ceil(new / run_batch) * (run_batch * per_image + step.max_new_tokens * per_step) if new else 0.0
            seconds += (new if step.score else 0) * per_image
            if step.condition not in (*INTERPOLATIONS, "hr"):
                seconds += len(step.indices) * rates["swin2sr"] * max(1.0, reference.fp32_tflops / card.fp32_tflops)
        if plan.agreement_cases:  # the same images in this process too
            seconds += plan.agreement_cases * (2 * per_image) + math.ceil(plan.agreement_cases / 4) * 128 * per_step
        precision = (f"4-bit NF4, {config.dtype} compute" if four_bit else config.dtype)
        rows.append({"card": name, "rates": "measured" if name == MEASURED_CARD else "scaled",
                     "precision": precision, "batch": batch,
                     "peak memory (GiB)": f"{config.peak(batch) / GIB:.1f} of {config.budget / GIB:.1f}",
                     "GPU time at most (h)": round(seconds / 3600, 1)})
    return pd.DataFrame(rows).set_index("card")


def plan_text(root: str | os.PathLike, profile: str | os.PathLike) -> str:
    """``cxr book --plan``: the steps, the totals and the estimate, as text."""
    plan = profile_plan(root, profile)
    totals = plan.totals()
    where = (f"asked of the server at {plan.endpoint} ({plan.concurrency} requests at once)" if plan.endpoint
             else "in this process")
    lines = [f"{plan.profile} profile: MedGemma {where}; no model is loaded to plan this",
             plan.table().to_string(index=False), "",
             f"total: {totals['reports']} reports (a report two notebooks share is run once), {totals['scored']} answer "
             f"scores, at most {totals['new_tokens']:,} new tokens and about {totals['prompt_tokens']:,} prompt tokens; "
             f"{totals['upscaled']} images through a learned upscaler"]
    if plan.agreement_cases:
        lines.append(f"before the notebooks: the agreement check, {plan.agreement_cases} images through the server and "
                     "in this process")
    if plan.stand_ins:
        lines.append("stand-ins: the estimate below is for the real MedGemma 1.5 4B, not the stand-in this profile runs")
    lines += ["", "estimated GPU time and memory for MedGemma 1.5 4B "
              + ("on the server (in-process rates at its concurrency: an upper bound)" if plan.endpoint else "in this process")
              + f" — measured on an {MEASURED_CARD} ({BENCH_FILE}), scaled to the others from their datasheets:",
              estimate(plan).to_string()]
    if plan.endpoint:
        lines.append("no T4 row: vLLM and TGI refuse bfloat16 there and float16 empties Gemma 3's answers; on a T4 run "
                     "the study in this process (4-bit weights, float32 compute: cxr book --profile full)")
    if plan.agreement_cases:
        lines.append("the agreement check loads MedGemma in this process beside the server: leave it about 10 GiB "
                     "(vllm serve … --gpu-memory-utilization 0.7 on a 40 GB card)")
    return "\n".join(lines)

