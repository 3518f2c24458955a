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
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]{counts}"


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
