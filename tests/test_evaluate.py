"""Metrics, intervals, paired tests and the second-opinion analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_lib import evaluate


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


def test_condition_summary_counts_uncertain_and_cut_off() -> None:
    results = pd.concat([
        frame("lanczos", ["normal", "uncertain", "pneumonia", "normal"], [0, 1, 1, 1], ["eos", "max_new_tokens", "eos", "eos"]),
        frame("swin2sr", ["normal", "normal", "normal", "normal"], [0, 1, 1, 1]),
    ])
    summary = evaluate.condition_summary(results).set_index("condition")
    assert summary.loc["lanczos", "uncertain"] == 1 and summary.loc["lanczos", "cut off"] == 1
    assert summary.loc["lanczos", "accuracy"].startswith("0.500")
    assert summary.loc["swin2sr", "accuracy"].startswith("0.250")


def test_paired_mcnemar_counts_discordant_pairs() -> None:
    results = pd.concat([
        frame("lanczos", ["normal", "normal", "pneumonia", "normal"], [0, 1, 1, 1]),
        frame("hr", ["normal", "pneumonia", "pneumonia", "pneumonia"], [0, 1, 1, 1]),
    ])
    table = evaluate.paired_tests(results, ["lanczos", "hr"], baseline="lanczos")
    row = table.iloc[0]
    assert row["condition"] == "hr" and row["against"] == "lanczos"
    assert row["right only with condition"] == 2 and row["right only with the other"] == 0
    assert row["exact McNemar p"] == pytest.approx(0.5)


def test_second_opinion_corrections_and_new_errors() -> None:
    cnn = pd.DataFrame({"index": [0, 1, 2, 3], "label": [0, 1, 0, 1], "pred": [1, 1, 0, 0],
                        "prob_pneumonia": [0.6, 0.99, 0.02, 0.3]})
    vlm = pd.DataFrame({"index": [0, 1, 2, 3], "label": ["normal", "normal", "normal", "uncertain"]})
    decisions = evaluate.second_opinion(cnn, vlm)
    summary = evaluate.second_opinion_summary(decisions)
    assert summary["corrections"] == 1 and summary["new errors"] == 1 and summary["net change"] == 0
    assert decisions.set_index("index").loc[3, "final"] == 0  # uncertain never overrides
    guarded = evaluate.second_opinion(cnn, vlm, "vlm-below-confidence", confidence=0.9)
    assert evaluate.second_opinion_summary(guarded)["new errors"] == 0  # the 0.99 call is kept


def test_reference_comparison_lists_claims_and_ours() -> None:
    ours = frame("lanczos", ["normal"] * 10, [0] * 10)
    table = evaluate.reference_comparison(ours, range(10))
    assert set(table["source"]) == {"reference analysis, as reported", "reference analysis, its reports read correctly", "this study"}
    assert table[table["source"] == "this study"]["correct of 10"].iloc[0] == 10
