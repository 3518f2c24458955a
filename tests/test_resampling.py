"""The patient-grouped bootstrap, DeLong's test with patient clusters, and verbs that follow the interval."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_lib.analysis import resampling
from cxr_lib.analysis.evaluate import delong_test
from cxr_lib.analysis.verdict import ALPHA, direction, phrase


def data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, np.round(labels * 0.8 + rng.normal(0, 1, n), 2), np.round(labels * 0.5 + rng.normal(0, 1, n), 2)


def tripled(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every image three times (one child, three identical images)."""
    return tuple(np.repeat(a, 3) for a in arrays)


def test_weights_draw_whole_groups() -> None:
    groups = np.array(["a", "a", "b", "c", "c", "c"])
    weights = resampling.bootstrap_weights(groups, n_resamples=500, seed=1)
    assert weights.shape == (501, 6) and (weights[0] == 1).all()
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 3] == weights[:, 5]).all()  # a child's images move together
    drawn = weights[1:, [0, 2, 3]].sum(axis=1)  # one image per group: the draws per resample
    assert (drawn == 3).all()  # as many groups drawn as there are


def test_weighted_statistics_match_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    labels, scores, _ = data()
    weights = resampling.bootstrap_weights(np.arange(len(labels)), n_resamples=20, seed=3)
    aucs = resampling.weighted_auc(labels, scores, weights)
    sens = resampling.sensitivity_at_specificity(labels, scores, 0.9, weights)
    for row in (0, 7, 19):
        assert aucs[row] == pytest.approx(roc_auc_score(labels, scores, sample_weight=weights[row]))
        fpr, tpr, _ = roc_curve(labels, scores, sample_weight=weights[row])
        assert sens[row] == pytest.approx(tpr[fpr <= 0.1 + 1e-12].max())
    tied = np.round(scores, 1)  # many images on one score: the rates must step once per distinct score
    sens_tied = resampling.sensitivity_at_specificity(labels, tied, 0.8, weights)
    for row in (0, 5):
        fpr, tpr, _ = roc_curve(labels, tied, sample_weight=weights[row])
        assert sens_tied[row] == pytest.approx(tpr[fpr <= 0.2 + 1e-12].max())
    sensitivity, specificity = resampling.rates_at_threshold(labels, scores, 0.4)
    called = scores >= 0.4
    assert sensitivity[0] == pytest.approx(called[labels == 1].mean())
    assert specificity[0] == pytest.approx((~called[labels == 0]).mean())


def test_resampling_children_undoes_duplicated_images() -> None:
    labels, scores, _ = data()
    once = resampling.interval(resampling.weighted_auc(labels, scores, resampling.bootstrap_weights(np.arange(len(labels)), 400)))
    y3, s3, g3 = tripled(labels, scores, np.arange(len(labels)))
    by_child = resampling.interval(resampling.weighted_auc(y3, s3, resampling.bootstrap_weights(g3, 400)))
    by_image = resampling.interval(resampling.weighted_auc(y3, s3, resampling.bootstrap_weights(np.arange(len(y3)), 400)))
    assert by_child.value == pytest.approx(once.value)
    assert (by_child.low, by_child.high) == pytest.approx((once.low, once.high))  # the same draws of children
    assert by_image.high - by_image.low < 0.75 * (by_child.high - by_child.low)  # images as independent: too narrow


def test_clustered_delong_is_delong_for_single_images_and_undoes_duplicates() -> None:
    labels, a, b = data(200)
    plain = delong_test(labels, a, b)
    singles = delong_test(labels, a, b, groups=np.arange(200))
    assert singles == pytest.approx(plain)
    y3, a3, b3, g3 = tripled(labels, a, b, np.arange(200))
    clustered = delong_test(y3, a3, b3, groups=g3)
    naive = delong_test(y3, a3, b3)
    assert clustered["difference"] == pytest.approx(plain["difference"])
    assert (clustered["low"], clustered["high"], clustered["p_value"]) == pytest.approx((plain["low"], plain["high"], plain["p_value"]))
    assert naive["high"] - naive["low"] < 0.7 * (clustered["high"] - clustered["low"])


def test_interval_reads_row_zero_as_the_estimate() -> None:
    values = np.concatenate([[0.5], np.linspace(0, 1, 1001)])
    result = resampling.interval(values)
    assert result.value == 0.5 and result.low == pytest.approx(0.025) and result.high == pytest.approx(0.975)
    assert str(result) == "0.500 [0.025, 0.975]" and result.signed() == "+0.500 [+0.025, +0.975]"


@pytest.mark.parametrize(
    "low, high, p, verb",
    [
        (0.01, 0.03, None, "higher"),
        (-0.03, -0.01, None, "lower"),
        (-0.01, 0.03, None, "no different"),
        (0.01, 0.03, 0.2, "no different"),  # the interval excludes 0 but Holm does not let it through
        (0.01, 0.03, ALPHA / 2, "higher"),
        (float("nan"), 0.1, None, "not estimable"),
    ],
)
def test_the_verb_follows_the_interval(low: float, high: float, p: float | None, verb: str) -> None:
    assert direction(low, high, p) == verb
    assert direction(low, high, p, verbs=("closer to", "further from", "neither")) in ("closer to", "further from", "neither", "not estimable")


def test_phrase() -> None:
    assert phrase(0.0105, 0.0055, 0.0156, 4) == "+0.0105 [+0.0055, +0.0156]"
    assert phrase(-3.63, -3.72, -3.54, 2, " dB") == "-3.63 dB [-3.72 dB, -3.54 dB]"


def test_a_rate_of_one_keeps_an_interval() -> None:
    ones = np.ones(401)
    kept = resampling.rate_interval(ones, groups=40)
    assert kept.value == 1.0 and kept.high == 1.0 and 0.85 < kept.low < 0.95  # Wilson over 40 children
    spread = np.concatenate([[0.5], np.linspace(0.4, 0.6, 400)])
    assert resampling.rate_interval(spread, groups=40) == resampling.interval(spread)


def test_auc_difference_of_independent_sets() -> None:
    from sklearn.metrics import roc_auc_score

    y1, s1, _ = data(200, seed=1)
    y2, _, s2 = data(200, seed=2)
    gap = resampling.auc_difference((y1, s1, np.arange(200)), (y2, s2, np.arange(200)), n_resamples=400)
    assert gap.value == pytest.approx(roc_auc_score(y1, s1) - roc_auc_score(y2, s2))
    assert gap.low < gap.value < gap.high
    same = resampling.auc_difference((y1, s1, np.arange(200)), (y1, s1, np.arange(200)), n_resamples=400)
    assert same.value == 0 and same.low < 0 < same.high  # the same AUC, resampled apart: no difference
