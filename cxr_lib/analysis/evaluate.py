"""Metrics with confidence intervals, and paired tests of conditions on the same cases.

Conventions: labels are 0 = normal, 1 = pneumonia (positive class). A reading is right, wrong or
an abstention (:func:`cxr_lib.analysis.records.outcome`, the one definition). An abstention is never
dropped: each table gives the abstention rate, accuracy with abstentions counted wrong (the
headline), accuracy among clear calls, and (:func:`uncertain_bounds`) how far the headline moves
if every *uncertain* reading were pneumonia or normal. Proportions carry Wilson intervals; sums of
independent proportions MOVER intervals; paired differences Newcombe's interval; AUCs a bootstrap
interval, and paired AUCs DeLong's test. The review policy built on these is in :mod:`cxr_lib.analysis.review`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.labels import LABELS
from cxr_lib.analysis.records import outcome

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
    that is not a clear class (an abstention) counts as wrong.
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


def paired_difference_ci(both: int, only_a: int, only_b: int, neither: int,
                         confidence: float = CONFIDENCE) -> Estimate:
    """The difference ``p_a - p_b`` of two proportions measured on the same cases, with Newcombe's
    square-and-add interval for paired data (Newcombe 1998, method 10: the Wilson intervals of
    ``p_a`` and ``p_b`` combined with the correlation of the pairs).

    ``both``: cases where A and B succeed; ``only_a``, ``only_b``: the discordant pairs;
    ``neither``: both fail. ``successes``/``total`` of the result are ``only_a - only_b`` and ``n``.
    """
    n = both + only_a + only_b + neither
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, 0)
    a, b = proportion_ci(both + only_a, n, confidence), proportion_ci(both + only_b, n, confidence)
    rows, cols = (both + only_a, only_b + neither), (both + only_b, only_a + neither)
    psi = 0.0
    if min(*rows, *cols) > 0:
        cross = both * neither - only_a * only_b
        shrunk = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
        psi = shrunk / np.sqrt(float(rows[0]) * rows[1] * cols[0] * cols[1])
    delta = a.value - b.value
    low = delta - np.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2
                          - 2 * psi * (a.value - a.low) * (b.high - b.value))
    high = delta + np.sqrt((b.value - b.low) ** 2 + (a.high - a.value) ** 2
                           - 2 * psi * (b.value - b.low) * (a.high - a.value))
    return Estimate(float(delta), float(max(low, -1.0)), float(min(high, 1.0)), int(only_a - only_b), int(n))


def linear_combination_ci(parts: Sequence[tuple[int, int, float]], confidence: float = CONFIDENCE) -> Estimate:
    """``sum(w * p)`` over independent proportions ``p = k / n`` given as ``(k, n, w)``, with the MOVER
    interval built from each proportion's Wilson limits (Zou & Donner 2008; with weights 1 and -1 it
    is Newcombe's hybrid score interval for a difference of independent proportions).

    Used to weight case sets back to their share of the test split, and to project a review's
    corrections and new errors from enriched case sets onto the whole split.
    """
    estimates = [(proportion_ci(k, n, confidence), w) for k, n, w in parts if n > 0]
    if not estimates:
        return Estimate(float("nan"), float("nan"), float("nan"))
    value = sum(w * e.value for e, w in estimates)
    below = sum((w * e.value - min(w * e.low, w * e.high)) ** 2 for e, w in estimates)
    above = sum((max(w * e.low, w * e.high) - w * e.value) ** 2 for e, w in estimates)
    return Estimate(float(value), float(value - np.sqrt(below)), float(value + np.sqrt(above)))


def delong_test(labels: Sequence[int], scores_a: Sequence[float], scores_b: Sequence[float],
                confidence: float = CONFIDENCE, groups: Sequence[object] | None = None) -> dict[str, float]:
    """Two AUCs measured on the same cases compared with DeLong's test (DeLong, DeLong &
    Clarke-Pearson 1988), computed from midranks (Sun & Xu 2014).

    With ``groups`` (one label per case, e.g. the patient), cases in one group are not taken as
    independent: the variance is Obuchowski's for clustered ROC data (*Biometrics* 1997), which sums
    each group's placement values before taking their (co)variances; with one case per group it is
    DeLong's exactly. Returns ``auc_a``, ``auc_b``, ``difference`` (b - a) with its ``low`` / ``high``
    normal-theory interval, and the two-sided ``p_value``; NaN where a class is missing or has a single case.
    """
    from scipy.stats import norm, rankdata

    y = np.asarray(labels, dtype=int)
    scores = np.vstack([np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)])
    keep = ~np.isnan(scores).any(axis=0)
    y, scores = y[keep], scores[:, keep]
    positives, negatives = scores[:, y == 1], scores[:, y == 0]
    m, n = positives.shape[1], negatives.shape[1]
    nan = float("nan")
    if m < 2 or n < 2:
        return {"auc_a": nan, "auc_b": nan, "difference": nan, "low": nan, "high": nan, "p_value": nan}
    joint = rankdata(np.hstack([positives, negatives]), axis=1)
    # placement values: for each positive, the share of negatives it outranks (ties count half), and back
    v10 = (joint[:, :m] - rankdata(positives, axis=1)) / n
    v01 = 1.0 - (joint[:, m:] - rankdata(negatives, axis=1)) / m
    aucs = v10.mean(axis=1)
    if groups is None:
        covariance = np.cov(v10) / m + np.cov(v01) / n
    else:
        covariance = _clustered_covariance(v10, v01, aucs, np.asarray(list(groups), dtype=object)[keep], y)
    difference = float(aucs[1] - aucs[0])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    if variance <= 0:
        p_value = 1.0 if difference == 0 else 0.0
        se = 0.0
    else:
        se = float(np.sqrt(variance))
        p_value = float(2 * norm.sf(abs(difference) / se))
    z = float(norm.ppf(0.5 + confidence / 2))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference,
            "low": difference - z * se, "high": difference + z * se, "p_value": p_value}


def _clustered_covariance(v10: np.ndarray, v01: np.ndarray, aucs: np.ndarray, groups: np.ndarray,
                          labels: np.ndarray) -> np.ndarray:
    """Obuchowski's (1997) covariance of two AUCs from placement values summed within each group."""
    codes, _ = pd.factorize(groups)
    count = codes.max() + 1
    pos, neg = codes[labels == 1], codes[labels == 0]
    m_i, n_i = np.bincount(pos, minlength=count), np.bincount(neg, minlength=count)
    x = np.stack([np.bincount(pos, weights=row, minlength=count) for row in v10], axis=1) - np.outer(m_i, aucs)
    y = np.stack([np.bincount(neg, weights=row, minlength=count) for row in v01], axis=1) - np.outer(n_i, aucs)
    big_m, big_n = m_i.sum(), n_i.sum()
    with_pos, with_neg = int((m_i > 0).sum()), int((n_i > 0).sum())
    s10 = with_pos / ((with_pos - 1) * big_m) * (x.T @ x)
    s01 = with_neg / ((with_neg - 1) * big_n) * (y.T @ y)
    s11 = count / (count - 1) * (x.T @ y)
    return s10 / big_m + s01 / big_n + (s11 + s11.T) / (big_m * big_n)


def symmetry_test(readings_a: Sequence[str], readings_b: Sequence[str]) -> dict[str, float]:
    """Bowker's test of symmetry of the three-way readings (normal / pneumonia / uncertain) of the
    same cases under two conditions (statsmodels ``SquareTable.symmetry``): whether cases move
    between readings in one direction more than the other."""
    from statsmodels.stats.contingency_tables import SquareTable

    a, b = pd.Categorical(list(readings_a), categories=LABELS), pd.Categorical(list(readings_b), categories=LABELS)
    table = pd.crosstab(a, b, dropna=False).reindex(index=list(LABELS), columns=list(LABELS), fill_value=0)
    result = SquareTable(table.to_numpy(), shift_zeros=False).symmetry()
    return {"statistic": float(result.statistic), "df": int(result.df), "p_value": float(result.pvalue)}


# --------------------------------------------------------------------------- VLM results per condition

TRUTH, CALL, SCORE, STOP, CASE = "truth", "label", "p_pneumonia", "stop_reason", "index"


def outcomes(frame: pd.DataFrame) -> pd.Series:
    """``right`` / ``wrong`` / ``abstained`` for each reading (:func:`cxr_lib.analysis.records.outcome`)."""
    return pd.Series([outcome(label, truth) for label, truth in zip(frame[CALL], frame[TRUTH])],
                     index=frame.index, dtype=object)


def is_correct(frame: pd.DataFrame) -> pd.Series:
    """Whether each reading is right (an abstention is not)."""
    return outcomes(frame) == "right"


def _groups(frame: pd.DataFrame, by: str | list[str]) -> Iterable[tuple[dict[str, object], pd.DataFrame]]:
    names = [by] if isinstance(by, str) else list(by)
    for key, group in frame.groupby(by, sort=False):
        yield dict(zip(names, key if isinstance(key, tuple) else (key,))), group


def condition_summary(frame: pd.DataFrame, by: str | list[str] = "condition") -> pd.DataFrame:
    """Per group: cases; clear calls; abstentions (rate with Wilson CI); cut-off reports; accuracy
    with abstentions counted wrong; accuracy among clear calls; sensitivity and specificity
    (abstentions wrong); the AUC of P(pneumonia) with a bootstrap CI where scores exist."""
    rows = []
    for row, group in _groups(frame, by):
        result = outcomes(group)
        clear = result.isin(["right", "wrong"])
        metrics = binary_metrics(group[TRUTH], group[CALL])
        row.update({
            "n": len(group),
            "clear calls": int(clear.sum()),
            "abstained": str(proportion_ci(int((result == "abstained").sum()), len(group))),
            "cut off": int((group[STOP] == "max_new_tokens").sum()) if STOP in group else 0,
            "accuracy (abstention = wrong)": str(metrics["accuracy"]),
            "accuracy among clear calls": str(proportion_ci(int((result == "right").sum()), int(clear.sum()))),
            "sensitivity (abstention = wrong)": str(metrics["sensitivity"]),
            "specificity (abstention = wrong)": str(metrics["specificity"]),
        })
        if SCORE in group and group[SCORE].notna().any():
            row["AUC of P(pneumonia)"] = str(auc_ci(group[TRUTH], group[SCORE]))
        rows.append(row)
    return pd.DataFrame(rows)


def uncertain_bounds(frame: pd.DataFrame, by: str | list[str] = "condition") -> pd.DataFrame:
    """How far the headline can move with the abstentions: accuracy, sensitivity and specificity
    as read (abstentions wrong), and with every *uncertain* reading taken as pneumonia or as normal."""
    rows = []
    for row, group in _groups(frame, by):
        calls = group[CALL].where(group[CALL].isin(["normal", "pneumonia"]), "uncertain")
        row.update({"n": len(group), "uncertain": int((calls == "uncertain").sum())})
        variants = {"as read": calls, "uncertain → pneumonia": calls.replace("uncertain", "pneumonia"),
                    "uncertain → normal": calls.replace("uncertain", "normal")}
        for name, variant in variants.items():
            for metric, estimate in binary_metrics(group[TRUTH], variant).items():
                row[f"{metric}, {name}"] = (f"{estimate.value:.3f} ({estimate.successes}/{estimate.total})"
                                            if estimate.total else "n/a")
        rows.append(row)
    return pd.DataFrame(rows)


def paired_tests(frame: pd.DataFrame, conditions: Sequence[str], baseline: str) -> pd.DataFrame:
    """Each condition against ``baseline`` on the cases both have: exact McNemar test of right vs not
    right (abstentions count as not right), Bowker's symmetry test of the three-way readings, and
    DeLong's test of the AUCs of P(pneumonia) where both were scored."""
    wide = frame.assign(correct=is_correct(frame)).pivot_table(
        index=CASE, columns="condition", values=["correct", CALL, SCORE, TRUTH], aggfunc="first", dropna=False
    )
    rows = []
    for condition in conditions:
        if condition == baseline or condition not in wide[CALL] or baseline not in wide[CALL]:
            continue
        pair = wide.loc[wide[CALL][[baseline, condition]].notna().all(axis=1)]
        test = mcnemar_exact(pair["correct"][condition].astype(bool), pair["correct"][baseline].astype(bool))
        symmetry = symmetry_test(pair[CALL][baseline], pair[CALL][condition])
        row = {
            "condition": condition, "against": baseline, "cases": test["n"],
            "right only with condition": test["a_only"], "right only with the other": test["b_only"],
            "exact McNemar p": round(test["p_value"], 4),
            "Bowker symmetry p (3 readings)": round(symmetry["p_value"], 4),
        }
        if SCORE in wide and condition in wide[SCORE] and baseline in wide[SCORE]:
            auc = delong_test(pair[TRUTH][baseline], pair[SCORE][baseline], pair[SCORE][condition])
            if not np.isnan(auc["difference"]):
                row["AUC difference [95% CI]"] = f"{auc['difference']:+.3f} [{auc['low']:+.3f}, {auc['high']:+.3f}]"
                row["DeLong p"] = round(auc["p_value"], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def weighted_accuracy(frame: pd.DataFrame, weights: "Mapping[str, float] | pd.Series", by: str = "condition") -> pd.DataFrame:
    """Accuracy (abstentions wrong) and abstention rate per group with each case set weighted by its
    share of the population (``weights``: case set → share, summing to 1), MOVER intervals.

    ``frame`` has a ``case_set`` column (:func:`cxr_lib.study.label_case_sets`); case sets without a
    weight are left out, so overlapping or special sets (the reference cases) are never pooled.
    """
    weights = dict(weights.items())
    rows = []
    for key, group in frame[frame["case_set"].isin(list(weights))].groupby(by, sort=False):
        parts = [(sub, weights[name]) for name, sub in group.groupby("case_set", sort=False)]
        result = [(outcomes(sub), w) for sub, w in parts]
        rows.append({
            by: key,
            "cases": int(sum(len(sub) for sub, _ in parts)),
            "weighted accuracy (abstention = wrong)": str(linear_combination_ci(
                [(int((r == "right").sum()), len(r), w) for r, w in result])),
            "weighted abstention rate": str(linear_combination_ci(
                [(int((r == "abstained").sum()), len(r), w) for r, w in result])),
        })
    return pd.DataFrame(rows)
