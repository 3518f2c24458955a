"""The study's steps, one function per notebook section: CNN predictions, case sets, VLM runs.

The notebooks call these and show what they return; the work itself is done by the
modules below (data, baseline, upscale, vlm, runner, evaluate).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_lib.data import CaseSet, Split, load_case_set
from cxr_lib.errors import ParameterError

DEFAULT_PREDICTIONS = Path(__file__).resolve().parents[1] / "artifacts" / "baseline" / "predictions_test.csv"


def cnn_predictions(
    predictions_csv: str | os.PathLike | None = DEFAULT_PREDICTIONS,
    checkpoint: str | os.PathLike | None = None,
    train_preset: str | None = None,
    results_dir: str | os.PathLike = "results",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The CNN's test predictions: trained now (``train_preset``), predicted from a checkpoint,
    or read from a predictions CSV, in that order of preference."""
    from cxr_lib import baseline

    if train_preset:
        _, _, test = baseline.run_training(train_preset, Path(results_dir) / "baseline", seed, data_dir=data_dir)
        return baseline.read_predictions(test.predictions_path, "test", data_dir)
    if checkpoint:
        run = baseline.run_prediction(checkpoint, "test", Path(results_dir) / "baseline" / "predictions_test.csv", data_dir)
        return baseline.read_predictions(run.predictions_path, "test", data_dir)
    if predictions_csv is None:
        raise ParameterError("no CNN source: set cnn_predictions, cnn_checkpoint or train_cnn_preset")
    return baseline.read_predictions(predictions_csv, "test", data_dir)


def select_cases(
    names: Sequence[str],
    test: Split,
    predictions: pd.DataFrame | None,
    predictions_csv: str | os.PathLike | None = None,
    max_per_set: int | None = None,
    correct_sample_size: int = 100,
    seed: int = 0,
) -> dict[str, CaseSet]:
    """The named case sets, each capped at ``max_per_set`` cases (a seeded, ordered choice)."""
    from cxr_lib.data import cases_from_predictions

    chosen: dict[str, CaseSet] = {}
    for name in names:
        if name.startswith("cnn-"):
            if predictions is None:
                raise ParameterError(f"case set {name!r} needs the CNN's predictions")
            cases = cases_from_predictions(predictions, name, n=correct_sample_size, seed=seed)
        else:
            cases = load_case_set(name, labels=test.labels, predictions=predictions_csv, n=correct_sample_size, seed=seed)
        chosen[name] = cap(cases, max_per_set, seed)
    return chosen


def cap(cases: CaseSet, limit: int | None, seed: int = 0) -> CaseSet:
    """At most ``limit`` cases of a set, chosen with a seed and kept in index order."""
    if limit is None or len(cases) <= limit:
        return cases
    rng = np.random.default_rng(seed)
    kept = sorted(rng.choice(np.array(cases.indices), size=limit, replace=False).tolist())
    return CaseSet(cases.name, tuple(int(i) for i in kept), f"{cases.description} ({limit} of {len(cases)}, seed {seed})")


def cases_table(case_sets: Mapping[str, CaseSet], test: Split) -> pd.DataFrame:
    """One row per case set: size, class counts and how it was chosen."""
    rows = []
    for name, cases in case_sets.items():
        labels = test.labels[list(cases.indices)] if len(cases) else np.array([], dtype=int)
        rows.append({"case set": name, "cases": len(cases), "normal": int((labels == 0).sum()),
                     "pneumonia": int((labels == 1).sum()), "how chosen": cases.description})
    return pd.DataFrame(rows).set_index("case set")


def all_indices(case_sets: Mapping[str, CaseSet]) -> list[int]:
    """Every index in any of the case sets, once, in order."""
    return sorted({i for cases in case_sets.values() for i in cases.indices})


def case_images(
    test: Split, indices: Sequence[int], condition: str, *, hr: Any = None, sr_model: Any = None
) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """The 224×224 RGB images the VLM sees under ``condition``, and the true labels, by test index."""
    from cxr_lib.upscale import condition_images

    keys = [int(i) for i in indices]
    images = condition_images(test, keys, condition, 224, hr=hr, sr_model=sr_model, rgb=True)
    return dict(zip(keys, images)), {i: test.label(i) for i in keys}


def run_condition(
    vlm: Any,
    test: Split,
    indices: Sequence[int],
    condition: str,
    *,
    settings: Any,
    results_dir: str | os.PathLike,
    strategy: str = "structured",
    language: str = "en",
    hr: Any = None,
    sr_model: Any = None,
    score: bool = True,
) -> pd.DataFrame:
    """Show the VLM each case under one condition (an upscaler or ``hr``); one row per case."""
    from cxr_lib.runner import run_reports

    if condition == "hr":
        indices = hr.available(indices)
    images, truths = case_images(test, indices, condition, hr=hr, sr_model=sr_model)
    return run_reports(
        vlm, images, truths, condition=condition, strategy=strategy,
        language=language, settings=settings, results_dir=results_dir, score=score,
    )


def label_case_sets(frame: pd.DataFrame, case_sets: Mapping[str, CaseSet]) -> pd.DataFrame:
    """One row per (record, case set it belongs to), with a ``case_set`` column."""
    parts = [frame[frame["index"].isin(cases.indices)].assign(case_set=name) for name, cases in case_sets.items()]
    return pd.concat(parts, ignore_index=True) if parts else frame.assign(case_set=[])


def report_excerpts(frame: pd.DataFrame, limit: int = 6, width: int = 400) -> pd.DataFrame:
    """A few reports with their reading, the evidence sentence and the stop reason."""
    columns = [c for c in ("index", "condition", "truth", "label", "evidence", "rule", "stop_reason", "p_pneumonia") if c in frame]
    shown = frame.head(limit)[columns].copy()
    shown["report (start)"] = frame.head(limit)["text"].str.slice(0, width)
    return shown.set_index("index")


def model_banner(model: str | os.PathLike) -> str:
    """Markdown naming the model, with the stand-in warning when it is one."""
    from cxr_lib.stand_ins import STAND_IN_LABEL, is_stand_in

    if is_stand_in(model):
        return f"**⚠ {STAND_IN_LABEL}.** Model folder: `{Path(model).name}`. The numbers below test the pipeline only."
    return f"Model: `{model}`."


def second_opinion_table(
    predictions: pd.DataFrame, readings: pd.DataFrame, case_sets: Mapping[str, CaseSet], confidence: float = 0.9
) -> pd.DataFrame:
    """Corrections, new errors and net change per case set and review policy."""
    from cxr_lib.evaluate import POLICIES, second_opinion, second_opinion_summary

    rows = []
    for policy in POLICIES:
        decisions = second_opinion(predictions, readings, policy, confidence)
        rows += [{"policy": policy, "case set": name,
                  **second_opinion_summary(decisions[decisions["index"].isin(cases.indices)])}
                 for name, cases in case_sets.items()]
    return pd.DataFrame(rows).set_index(["policy", "case set"])


def projected_second_opinion(
    predictions: pd.DataFrame, readings: pd.DataFrame, case_sets: Mapping[str, CaseSet],
    policy: str = "vlm-on-disagreement",
) -> pd.Series | None:
    """What the review would do on the whole test split: corrections measured on the CNN's
    errors, new errors on the sample of cases it got right (None without both sets)."""
    from cxr_lib.evaluate import projected_net_change, second_opinion

    decisions = second_opinion(predictions, readings, policy)
    wrong = predictions["pred"] != predictions["label"]
    error_sets = [c for n, c in case_sets.items() if n in ("cnn-errors", "cnn-false-positives", "cnn-false-negatives")]
    correct = case_sets.get("cnn-correct-sample")
    if not error_sets or correct is None:
        return None
    error_idx = {i for c in error_sets for i in c.indices}
    result = projected_net_change(
        decisions[decisions["index"].isin(error_idx)], decisions[decisions["index"].isin(correct.indices)],
        n_errors_total=int(wrong.sum()), n_correct_total=int((~wrong).sum()),
    )
    return pd.Series(result, name=policy)


def run_prompt_grid(
    vlm: Any, test: Split, indices: Sequence[int], strategies: Sequence[str], languages: Sequence[str], *,
    settings: Any, results_dir: str | os.PathLike, condition: str = "lanczos",
) -> pd.DataFrame:
    """Every prompt strategy × language on a few cases (one upscaler); one row per report."""
    from cxr_lib import runner

    images, truths = case_images(test, indices, condition)
    return runner.run_prompt_grid(vlm, images, truths, strategies=strategies, languages=languages, condition=condition,
                                  settings=settings, results_dir=results_dir)


def report_html(text: str, language: str, evidence: str = "") -> str:
    """A report as HTML, right-to-left for Arabic, with the evidence sentence highlighted."""
    import html

    body = html.escape(text)
    if evidence:
        body = body.replace(html.escape(evidence), f"<mark>{html.escape(evidence)}</mark>", 1)
    direction = "rtl" if language in ("ar", "Arabic") else "ltr"
    return f'<div dir="{direction}" lang="{language}" style="white-space: pre-wrap; border-left: 3px solid #999; padding-left: 8px">{body}</div>'
