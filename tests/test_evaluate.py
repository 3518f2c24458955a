"""Metrics, intervals, paired tests and the second-opinion analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxr_lib.analysis import evaluate


def test_wilson_interval_matches_the_formula() -> None:
    estimate = evaluate.proportion_ci(9, 10)
    z = 1.959963984540054
    p, n = 0.9, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert estimate.value == pytest.approx(0.9)
    assert estimate.low == pytest.approx(centre - half, abs=1e-9)
    assert estimate.high == pytest.approx(centre + half, abs=1e-9)
    assert "9/10" in str(estimate)
    assert np.isnan(evaluate.proportion_ci(0, 0).value)


def test_auc_ci_brackets_the_auc() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.6 + rng.random(200)
    estimate = evaluate.auc_ci(labels, scores, n_resamples=300)
    assert estimate.low < estimate.value < estimate.high
    assert 0.7 < estimate.value < 1.0
    assert np.isnan(evaluate.auc_ci([1, 1, 1], [0.1, 0.2, 0.3]).value)


def test_uncertain_is_counted_wrong_not_dropped() -> None:
    metrics = evaluate.binary_metrics([1, 0, 0, 1], ["pneumonia", "normal", "uncertain", "uncertain"])
    assert metrics["accuracy"].successes == 2 and metrics["accuracy"].total == 4
    assert metrics["sensitivity"].successes == 1 and metrics["sensitivity"].total == 2
    assert metrics["specificity"].successes == 1 and metrics["specificity"].total == 2


def frame(condition: str, calls: list[str], truth: list[int], stops: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({
        "index": range(len(calls)), "condition": condition, "truth": truth, "label": calls,
        "stop_reason": stops or ["eos"] * len(calls), "p_pneumonia": np.linspace(0, 1, len(calls)),
    })


def test_condition_summary_separates_abstentions_from_errors() -> None:
    results = pd.concat([
        frame("lanczos", ["normal", "uncertain", "pneumonia", "normal"], [0, 1, 1, 1], ["eos", "max_new_tokens", "eos", "eos"]),
        frame("swin2sr", ["normal", "normal", "normal", "normal"], [0, 1, 1, 1]),
    ])
    summary = evaluate.condition_summary(results).set_index("condition")
    assert summary.loc["lanczos", "cut off"] == 1 and summary.loc["lanczos", "clear calls"] == 3
    assert summary.loc["lanczos", "abstained"].endswith("(1/4)")
    assert summary.loc["lanczos", "accuracy (abstention = wrong)"].startswith("0.500")  # 2 of 4
    assert summary.loc["lanczos", "accuracy among clear calls"].startswith("0.667")  # 2 of 3
    assert summary.loc["swin2sr", "accuracy (abstention = wrong)"].startswith("0.250")
    assert summary.loc["swin2sr", "abstained"].endswith("(0/4)")


def test_uncertain_bounds_read_every_uncertain_both_ways() -> None:
    results = frame("lanczos", ["normal", "uncertain", "uncertain", "pneumonia", "uncertain"], [0, 1, 0, 1, 1])
    row = evaluate.uncertain_bounds(results).iloc[0]
    assert row["uncertain"] == 3
    assert row["accuracy, as read"] == "0.400 (2/5)"
    assert row["accuracy, uncertain → pneumonia"] == "0.800 (4/5)"  # the two pneumonia cases become right
    assert row["accuracy, uncertain → normal"] == "0.600 (3/5)"  # the normal case becomes right
    assert row["sensitivity, uncertain → normal"] == "0.333 (1/3)"
    assert row["specificity, uncertain → normal"] == "1.000 (2/2)"


def test_one_definition_of_correct() -> None:
    from cxr_lib.analysis.records import outcome

    results = frame("lanczos", ["normal", "pneumonia", "uncertain", "normal"], [0, 0, 1, 1])
    assert evaluate.outcomes(results).tolist() == ["right", "wrong", "abstained", "wrong"]
    assert evaluate.is_correct(results).tolist() == [outcome(l, t) == "right" for l, t in zip(results["label"], results["truth"])]
    assert outcome("normal", None) is None


def test_paired_tests_mcnemar_bowker_and_delong() -> None:
    results = pd.concat([
        frame("lanczos", ["normal", "normal", "pneumonia", "normal", "uncertain", "normal"], [0, 1, 1, 1, 0, 0]),
        frame("hr", ["normal", "pneumonia", "pneumonia", "pneumonia", "normal", "normal"], [0, 1, 1, 1, 0, 0]),
    ])
    row = evaluate.paired_tests(results, ["lanczos", "hr"], baseline="lanczos").iloc[0]
    assert row["condition"] == "hr" and row["against"] == "lanczos" and row["cases"] == 6
    assert row["right only with condition"] == 3 and row["right only with the other"] == 0
    assert row["exact McNemar p"] == pytest.approx(0.25)
    # Bowker by hand: normal→pneumonia 2 vs 0, uncertain→normal 1 vs 0: (2-0)²/2 + (1-0)²/1 = 3 on 3 df
    assert row["Bowker symmetry p (3 readings)"] == pytest.approx(round(float(stats.chi2.sf(3.0, 3)), 4))
    assert "DeLong p" in row.index


def test_newcombe_paired_interval_matches_the_textbook_example() -> None:
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017), ch. 8: complete
    # response before and after consolidation therapy (Cavo et al. 2012), Newcombe square-and-add:
    # -0.0621 (95% CI -0.1186 to -0.0046)
    estimate = evaluate.paired_difference_ci(59, 6, 16, 80)
    assert estimate.value == pytest.approx(-10 / 161)
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (-0.1186, -0.0046)
    assert (estimate.successes, estimate.total) == (-10, 161)


def test_mover_with_weights_one_and_minus_one_is_newcombes_hybrid_score() -> None:
    # Same book, ch. 4: high vs standard dose of epinephrine (Perondi et al. 2004), 7/34 vs 1/34,
    # Newcombe hybrid score interval 0.1765 (0.0189 to 0.3404)
    estimate = evaluate.linear_combination_ci([(7, 34, 1.0), (1, 34, -1.0)])
    assert (round(estimate.value, 4), round(estimate.low, 4), round(estimate.high, 4)) == (0.1765, 0.0189, 0.3404)
    single = evaluate.linear_combination_ci([(9, 10, 1.0)])
    wilson = evaluate.proportion_ci(9, 10)
    assert (single.low, single.high) == pytest.approx((wilson.low, wilson.high))


def _delong_brute_force(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong's AUC difference and its variance straight from the definition (O(m·n) comparisons)."""
    def psi(x: float, y: float) -> float:
        return 1.0 if x > y else 0.5 if x == y else 0.0

    pos, neg = labels == 1, labels == 0
    comps = []
    for s in (a, b):
        v10 = np.array([np.mean([psi(x, y) for y in s[neg]]) for x in s[pos]])
        v01 = np.array([np.mean([psi(x, y) for x in s[pos]]) for y in s[neg]])
        comps.append((v10, v01))
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    cov = s10 / m + s01 / n
    return comps[1][0].mean() - comps[0][0].mean(), cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]


def test_delong_matches_a_brute_force_computation_and_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 80)
    a = np.round(labels * 0.8 + rng.normal(0, 1, 80), 1)  # rounded: ties within and across classes
    b = np.round(labels * 0.3 + rng.normal(0, 1, 80), 1)
    result = evaluate.delong_test(labels, a, b)
    assert result["auc_a"] == pytest.approx(roc_auc_score(labels, a))
    assert result["auc_b"] == pytest.approx(roc_auc_score(labels, b))
    difference, variance = _delong_brute_force(labels, a, b)
    assert result["difference"] == pytest.approx(difference)
    z = result["difference"] / np.sqrt(variance)
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert result["high"] - result["low"] == pytest.approx(2 * 1.959963984540054 * np.sqrt(variance))
    same = evaluate.delong_test(labels, a, a)
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_weighted_accuracy_weights_each_case_set() -> None:
    results = pd.concat([
        frame("lanczos", ["normal"] * 4, [0, 0, 0, 1]).assign(case_set="cnn-correct-sample"),  # 3/4 right
        frame("lanczos", ["pneumonia", "uncertain"], [0, 0]).assign(case_set="cnn-false-positives"),  # 0/2
        frame("lanczos", ["normal"], [0]).assign(case_set="reference"),  # no weight: left out
    ])
    row = evaluate.weighted_accuracy(results, {"cnn-correct-sample": 0.9, "cnn-false-positives": 0.1}).iloc[0]
    assert row["cases"] == 6
    assert row["weighted accuracy (abstention = wrong)"].startswith(f"{0.9 * 0.75:.3f}")
    assert row["weighted abstention rate"].startswith(f"{0.1 * 0.5:.3f}")
