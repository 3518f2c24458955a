"""The patient-grouped bootstrap: resample children, not images, where several images come from one child.

Images of one child are not independent: resampling them one by one makes an interval too narrow.
:func:`bootstrap_weights` draws whole groups (:func:`cxr_lib.data.patients.groups`: the child, or the
image alone where the child is unknown) with replacement, as many as there are, and turns each draw into
a weight per image (how often its group was drawn). Every statistic here takes those weights, so one
matrix of draws serves every input on the same images, and a difference between two inputs is
resampled pairwise. Intervals are percentile intervals of the resampled values; point estimates are
computed on the images as they are.

- :func:`weighted_auc`: the AUC (Mann-Whitney, ties half) under each row of weights;
- :func:`sensitivity_at_specificity`: the highest sensitivity among thresholds whose specificity is at
  least the given one (a point of the ROC curve, so no threshold is carried from elsewhere);
- :func:`rates_at_threshold`: sensitivity and specificity of the calls ``score >= threshold``;
  :func:`rate_interval` keeps an interval where a rate is 0 or 1 on every resample (Wilson's, over children);
- :func:`auc_difference`: two AUCs measured on independent sets of images (e.g. validation against test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.evaluate import BOOTSTRAP_SAMPLES, CONFIDENCE, proportion_ci
from cxr_lib.analysis.verdict import phrase


def bootstrap_weights(groups: Sequence[object], n_resamples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> np.ndarray:
    """``(n_resamples + 1, n_images)`` weights: row 0 is all ones (the images as they are); each other row
    counts how often each image's group was drawn when the groups were resampled with replacement."""
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(uniques), size=(n_resamples, len(uniques)))
    counts = np.stack([np.bincount(row, minlength=len(uniques)) for row in draws]) if n_resamples else np.zeros((0, len(uniques)))
    return np.vstack([np.ones(len(codes)), counts[:, codes]]).astype(float)


def weighted_auc(labels: Sequence[int], scores: Sequence[float], weights: np.ndarray) -> np.ndarray:
    """The AUC under each row of ``weights`` (NaN where a row gives a class no weight)."""
    y, s = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    w_pos, w_neg = weights[:, y == 1], weights[:, y == 0]
    total = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, ((w_pos @ wins) * w_neg).sum(axis=1) / total, np.nan)


def _rates_at_each_score(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sensitivity and false-positive rate of ``score >= u`` for each distinct score ``u`` and above all
    of them (columns), under each row of weights."""
    cuts = np.unique(scores)
    position = np.searchsorted(cuts, scores)
    rates = []
    for cls in (1, 0):
        w, at = weights[:, labels == cls], position[labels == cls]
        order = np.argsort(at, kind="stable")
        firsts = np.flatnonzero(np.r_[True, at[order][1:] != at[order][:-1]]) if len(at) else np.empty(0, int)
        binned = np.zeros((len(weights), len(cuts) + 1))  # weight per distinct score
        if len(at):
            binned[:, at[order][firsts]] = np.add.reduceat(w[:, order], firsts, axis=1)
        at_or_above = np.cumsum(binned[:, ::-1], axis=1)[:, ::-1]  # column k: weight with score >= cuts[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            rates.append(at_or_above / w.sum(axis=1, keepdims=True))
    return rates[0], rates[1]


def sensitivity_at_specificity(labels: Sequence[int], scores: Sequence[float], specificity: float,
                               weights: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``weights`` (default: the images as they are), the highest sensitivity of the calls
    ``score >= t`` over thresholds ``t`` whose specificity is at least ``specificity``."""
    y, s = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    weights = np.ones((1, len(y))) if weights is None else weights
    sensitivity, false_positive = _rates_at_each_score(y, s, weights)
    allowed = false_positive <= 1 - specificity + 1e-12
    return np.where(allowed, sensitivity, 0.0).max(axis=1)


def rates_at_threshold(labels: Sequence[int], scores: Sequence[float], threshold: float,
                       weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``weights``: sensitivity and specificity of the calls ``score >= threshold``."""
    y, s = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    weights = np.ones((1, len(y))) if weights is None else weights
    called = s >= threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = (weights[:, (y == 1) & called]).sum(axis=1) / weights[:, y == 1].sum(axis=1)
        specificity = (weights[:, (y == 0) & ~called]).sum(axis=1) / weights[:, y == 0].sum(axis=1)
    return sensitivity, specificity


@dataclass(frozen=True)
class Resampled:
    """A statistic on the images as they are, with its percentile interval over the resamples."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def signed(self, digits: int = 3) -> str:
        """``+0.010 [+0.005, +0.016]``: for differences."""
        return phrase(self.value, self.low, self.high, digits)


def rate_interval(values: np.ndarray, groups: int, confidence: float = CONFIDENCE) -> Resampled:
    """:func:`interval` for a proportion; where it is 0 or 1 on every resample (the percentile interval
    collapses to a point), the Wilson interval counting each of the ``groups`` children once instead."""
    found = interval(values, confidence)
    if found.low == found.high and found.value in (0.0, 1.0) and groups > 0:
        wilson = proportion_ci(int(round(found.value * groups)), groups, confidence)
        return Resampled(found.value, wilson.low, wilson.high)
    return found


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> Resampled:
    """Row 0 of ``values`` (the images as they are) with the percentile interval of the other rows."""
    values = np.asarray(values, dtype=float)
    rest = values[1:][np.isfinite(values[1:])]
    tail = 100 * (1 - confidence) / 2
    if not len(rest):
        return Resampled(float(values[0]), float("nan"), float("nan"))
    low, high = np.percentile(rest, [tail, 100 - tail])
    return Resampled(float(values[0]), float(low), float(high))


def auc_difference(first: tuple[Sequence[int], Sequence[float], Sequence[object]],
                   second: tuple[Sequence[int], Sequence[float], Sequence[object]],
                   n_resamples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Resampled:
    """AUC of ``first`` minus AUC of ``second`` — two independent sets of images, each given as
    ``(labels, scores, groups)`` — with a 95% interval from resampling the children of each set apart."""
    values = []
    for k, (labels, scores, groups) in enumerate((first, second)):
        values.append(weighted_auc(labels, scores, bootstrap_weights(groups, n_resamples, seed + k)))
    return interval(values[0] - values[1])
