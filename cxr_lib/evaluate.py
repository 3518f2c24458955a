"""Metrics with confidence intervals, paired tests, and the CNN + VLM second-opinion analysis.

Conventions: labels are 0 = normal, 1 = pneumonia (positive class). A VLM reading of
``"uncertain"`` is never dropped: it counts as wrong in accuracy and in sensitivity or
specificity, and is reported in its own column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A proportion or score with its 95% confidence interval and the counts behind it."""

    value: float
    low: float
    high: float
    successes: int | None = None
    total: int | None = None

    def __str__(self) -> str:
        if np.isnan(self.value):
            return "n/a"
        counts = f" ({self.successes}/{self.total})" if self.total is not None else ""
        interval = "[no interval: too few cases]" if np.isnan(self.low) else f"[{self.low:.3f}, {self.high:.3f}]"
        return f"{self.value:.3f} {interval}{counts}"


def proportion_ci(successes: int, total: int, confidence: float = CONFIDENCE) -> Estimate:
    """A proportion with its Wilson score interval (statsmodels); NaN when ``total`` is 0."""
    from statsmodels.stats.proportion import proportion_confint

    if total == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, 0)
    low, high = proportion_confint(successes, total, alpha=1 - confidence, method="wilson")
    return Estimate(successes / total, float(low), float(high), int(successes), int(total))


def auc_ci(
    labels: Sequence[int],
    scores: Sequence[float],
    confidence: float = CONFIDENCE,
    n_resamples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> Estimate:
    """ROC AUC with a stratified percentile bootstrap interval (scipy.stats.bootstrap)."""
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    keep = ~np.isnan(scores)
    labels, scores = labels[keep], scores[keep]
    if len(np.unique(labels)) < 2:
        return Estimate(float("nan"), float("nan"), float("nan"))
    value = float(roc_auc_score(labels, scores))
    positives, negatives = scores[labels == 1], scores[labels == 0]
    if min(len(positives), len(negatives)) < 2:  # too few to resample: no interval
        return Estimate(value, float("nan"), float("nan"))

    def statistic(pos: np.ndarray, neg: np.ndarray, axis: int = -1) -> np.ndarray:
        # Mann-Whitney form of the AUC, vectorised over bootstrap resamples.
        greater = (pos[..., :, None] > neg[..., None, :]).mean(axis=(-2, -1))
        ties = (pos[..., :, None] == neg[..., None, :]).mean(axis=(-2, -1))
        return greater + 0.5 * ties

    result = bootstrap(
        (positives, negatives), statistic, n_resamples=n_resamples, confidence_level=confidence,
        method="percentile", random_state=np.random.default_rng(seed), vectorized=True, batch=50,
    )
    return Estimate(value, float(result.confidence_interval.low), float(result.confidence_interval.high))


def binary_metrics(labels: Sequence[int], predictions: Sequence[object]) -> dict[str, Estimate]:
    """Accuracy, sensitivity and specificity with Wilson intervals.

    ``predictions`` hold 0/1 or the strings ``normal`` / ``pneumonia`` / ``uncertain``; anything
    that is not a clear class counts as wrong.
    """
    truth = np.asarray(labels, dtype=int)
    called = np.array([as_class(p) for p in predictions], dtype=float)
    correct = called == truth
    positive, negative = truth == 1, truth == 0
    return {
        "accuracy": proportion_ci(int(correct.sum()), len(truth)),
        "sensitivity": proportion_ci(int(correct[positive].sum()), int(positive.sum())),
        "specificity": proportion_ci(int(correct[negative].sum()), int(negative.sum())),
    }


def as_class(prediction: object) -> float:
    """0 or 1 for a clear call (int or label name), NaN for uncertain or missing."""
    if isinstance(prediction, str):
        return {"normal": 0.0, "pneumonia": 1.0}.get(prediction.strip().lower(), float("nan"))
    if prediction is None or (isinstance(prediction, float) and np.isnan(prediction)):
        return float("nan")
    return float(int(prediction))


def metrics_table(rows: dict[str, dict[str, Estimate]]) -> pd.DataFrame:
    """A table with one row per name and a ``metric`` / ``low`` / ``high`` column triple per metric."""
    records = []
    for name, metrics in rows.items():
        record: dict[str, object] = {"": name}
        for metric, estimate in metrics.items():
            record[metric] = estimate.value
            record[f"{metric} low"] = estimate.low
            record[f"{metric} high"] = estimate.high
        records.append(record)
    return pd.DataFrame.from_records(records).set_index("")


def estimates_as_dict(metrics: dict[str, Estimate]) -> dict[str, dict[str, object]]:
    """Plain dicts for JSON."""
    return {name: asdict(estimate) for name, estimate in metrics.items()}


def mcnemar_exact(correct_a: Iterable[bool], correct_b: Iterable[bool]) -> dict[str, float]:
    """Paired exact McNemar test of two conditions on the same cases (statsmodels).

    Returns the discordant counts (``a_only``: A right and B wrong; ``b_only``) and the p-value.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    a = np.asarray(list(correct_a), dtype=bool)
    b = np.asarray(list(correct_b), dtype=bool)
    if a.shape != b.shape:
        raise ValueError("paired test needs the same cases in both conditions")
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    result = mcnemar(table, exact=True)
    return {
        "n": int(len(a)),
        "both_right": int(table[0, 0]),
        "a_only": int(table[0, 1]),
        "b_only": int(table[1, 0]),
        "both_wrong": int(table[1, 1]),
        "p_value": float(result.pvalue),
    }


# --------------------------------------------------------------------------- VLM results per condition

TRUTH, CALL, SCORE, STOP, CASE = "truth", "label", "p_pneumonia", "stop_reason", "index"


def is_correct(frame: pd.DataFrame) -> pd.Series:
    """Whether each reading names the true class (uncertain is never correct)."""
    return frame[CALL].map(as_class) == frame[TRUTH].astype(float)


def condition_summary(frame: pd.DataFrame, by: str | list[str] = "condition") -> pd.DataFrame:
    """Per group: n, accuracy / sensitivity / specificity with Wilson CIs, uncertain and cut-off
    counts, and the AUC of P(pneumonia) with a bootstrap CI where scores exist."""
    rows = []
    for key, group in frame.groupby(by, sort=False):
        metrics = binary_metrics(group[TRUTH], group[CALL])
        row: dict[str, object] = dict(zip([by] if isinstance(by, str) else by, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(group)
        for name, estimate in metrics.items():
            row[name] = str(estimate)
        row["uncertain"] = int((group[CALL] == "uncertain").sum())
        row["cut off"] = int((group[STOP] == "max_new_tokens").sum()) if STOP in group else 0
        if SCORE in group and group[SCORE].notna().any():
            row["AUC of P(pneumonia)"] = str(auc_ci(group[TRUTH], group[SCORE]))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_tests(frame: pd.DataFrame, conditions: Sequence[str], baseline: str) -> pd.DataFrame:
    """Exact McNemar tests of each condition against ``baseline`` on the cases both have."""
    correct = frame.assign(correct=is_correct(frame)).pivot_table(
        index=CASE, columns="condition", values="correct", aggfunc="first"
    )
    rows = []
    for condition in conditions:
        if condition == baseline or condition not in correct or baseline not in correct:
            continue
        both = correct[[baseline, condition]].dropna()
        test = mcnemar_exact(both[condition].astype(bool), both[baseline].astype(bool))
        rows.append({
            "condition": condition, "against": baseline, "cases": test["n"],
            "right only with condition": test["a_only"], "right only with the other": test["b_only"],
            "both right": test["both_right"], "both wrong": test["both_wrong"],
            "exact McNemar p": round(test["p_value"], 4),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- second opinion

POLICIES = ("vlm-on-disagreement", "vlm-below-confidence")


def second_opinion(
    cnn: pd.DataFrame, vlm: pd.DataFrame, policy: str = "vlm-on-disagreement", confidence: float = 0.9
) -> pd.DataFrame:
    """The final call per case when the VLM reviews the CNN.

    ``cnn`` has ``index, label, pred, prob_pneumonia``; ``vlm`` has ``index`` and the reading
    ``label``. Policies: ``vlm-on-disagreement`` — a clear VLM call replaces the CNN's wherever they
    differ; ``vlm-below-confidence`` — the same, but only where the CNN's confidence
    ``max(p, 1 - p)`` is below ``confidence``. An uncertain reading never overrides.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: expected one of {POLICIES}")
    merged = cnn[["index", "label", "pred", "prob_pneumonia"]].merge(
        vlm[[CASE, CALL]].rename(columns={CALL: "vlm"}), on="index", how="inner"
    )
    vlm_class = merged["vlm"].map(as_class)
    override = vlm_class.notna() & (vlm_class != merged["pred"])
    if policy == "vlm-below-confidence":
        cnn_confidence = np.maximum(merged["prob_pneumonia"], 1 - merged["prob_pneumonia"])
        override &= cnn_confidence < confidence
    merged["final"] = np.where(override, vlm_class, merged["pred"]).astype(int)
    merged["overridden"] = override
    merged["cnn_correct"] = merged["pred"] == merged["label"]
    merged["final_correct"] = merged["final"] == merged["label"]
    return merged


def second_opinion_summary(decisions: pd.DataFrame) -> dict[str, object]:
    """Corrections (CNN wrong → right), new errors (CNN right → wrong) and the net change."""
    corrections = int((~decisions["cnn_correct"] & decisions["final_correct"]).sum())
    new_errors = int((decisions["cnn_correct"] & ~decisions["final_correct"]).sum())
    return {
        "cases": len(decisions),
        "CNN errors": int((~decisions["cnn_correct"]).sum()),
        "overridden by the VLM": int(decisions["overridden"].sum()),
        "corrections": corrections,
        "new errors": new_errors,
        "net change": corrections - new_errors,
        "CNN accuracy": str(proportion_ci(int(decisions["cnn_correct"].sum()), len(decisions))),
        "accuracy with second opinion": str(proportion_ci(int(decisions["final_correct"].sum()), len(decisions))),
    }


def projected_net_change(
    errors: pd.DataFrame, correct_sample: pd.DataFrame, n_errors_total: int, n_correct_total: int
) -> dict[str, object]:
    """Project corrections and new errors onto the whole test split, with Wilson CIs on the rates.

    Corrections are measured on the CNN's errors; new errors on a sample of the cases it got
    right, then scaled to how many such cases the split has.
    """
    fix = proportion_ci(int(errors["final_correct"].sum()), len(errors))
    harm = proportion_ci(int((~correct_sample["final_correct"]).sum()), len(correct_sample))
    scale = lambda e, n: (e.value * n, e.low * n, e.high * n)  # noqa: E731
    fixed, broken = scale(fix, n_errors_total), scale(harm, n_correct_total)
    return {
        "correction rate on CNN errors": str(fix),
        "new-error rate on CNN-correct cases": str(harm),
        "projected corrections on the test split": f"{fixed[0]:.1f} [{fixed[1]:.1f}, {fixed[2]:.1f}] of {n_errors_total}",
        "projected new errors on the test split": f"{broken[0]:.1f} [{broken[1]:.1f}, {broken[2]:.1f}] of {n_correct_total}",
        "projected net change": f"{fixed[0] - broken[0]:+.1f}",
    }


# --------------------------------------------------------------------------- the reference analysis

#: What the analysis this project replaces reported on its ten cases, and what its own reports say
#: when read with negation handled (REFERENCE.md: every report concludes no pneumonia).
REFERENCE_CLAIMS = (
    ("lanczos", "reference analysis, as reported", 3, "keyword parser read 'no obvious signs of pneumonia' as pneumonia"),
    ("swin2sr", "reference analysis, as reported", 6, "same parser; padded Swin2SR output; sampled without a seed"),
    ("lanczos", "reference analysis, its reports read correctly", 9, "all normals right, index 22 missed"),
    ("swin2sr", "reference analysis, its reports read correctly", 9, "all normals right, index 22 missed"),
)


def reference_comparison(frame: pd.DataFrame, cases: Sequence[int]) -> pd.DataFrame:
    """The reference analysis's claims beside this study's numbers on the same ten cases."""
    rows = [
        {"condition": c, "source": s, "correct of 10": k, "accuracy": str(proportion_ci(k, 10)), "note": note}
        for c, s, k, note in REFERENCE_CLAIMS
    ]
    ours = frame[frame[CASE].isin(list(cases))]
    for condition, group in ours.groupby("condition", sort=False):
        correct = int(is_correct(group).sum())
        rows.append({
            "condition": condition, "source": "this study", f"correct of 10": correct,
            "accuracy": str(proportion_ci(correct, len(group))),
            "note": f"{int((group[CALL] == 'uncertain').sum())} uncertain, "
                    f"{int((group.get(STOP, pd.Series(dtype=str)) == 'max_new_tokens').sum())} cut off",
        })
    return pd.DataFrame(rows)
