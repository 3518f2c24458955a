"""The review policy: the cut-off chosen on validation only, the final calls, and the net change."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib import study
from cxr_lib.analysis import evaluate, review
from cxr_lib.data.artifacts import committed
from cxr_lib.errors import ParameterError, PredictionsError

ROOT = Path(__file__).resolve().parents[1]
RUN = committed("baseline")
Z = 1.959963984540054


def cutoff(threshold: float = 0.4, margin: float = 1.0) -> review.ReviewCutoff:
    return review.ReviewCutoff(threshold, margin, 0.8, 0, 0, 0, 0)


def test_margin_is_measured_from_the_cnn_threshold_on_the_logit_scale() -> None:
    t = 0.36
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert review.margin([t], t)[0] == pytest.approx(0.0, abs=1e-12)
    assert review.margin([0.5], t)[0] == pytest.approx(abs(logit(0.5) - logit(t)))
    up, down = np.exp(logit(t) + 1.5), np.exp(logit(t) - 1.5)
    assert review.margin([up / (1 + up), down / (1 + down)], t) == pytest.approx([1.5, 1.5])


def test_cutoff_is_the_smallest_margin_reaching_the_error_share(data_dir: Path) -> None:
    from cxr_lib.data.predictions import read_predictions
    from cxr_lib.models.cnn import read_threshold

    threshold = read_threshold(RUN)
    chosen = review.choose_cutoff(RUN / "predictions_val.csv", threshold)
    # brute force: every candidate margin, the share of validation errors at or below it
    val = read_predictions(RUN / "predictions_val.csv", "val")
    margins = review.margin(val["prob_pneumonia"], threshold)
    wrong = (val["prob_pneumonia"] >= threshold).to_numpy() != (val["label"] == 1).to_numpy()
    reaching = [m for m in np.unique(margins) if (margins[wrong] <= m).mean() >= review.ERROR_CAPTURE]
    assert chosen.margin == pytest.approx(min(reaching))
    assert chosen.validation_errors == int(wrong.sum()) and chosen.validation_cases == len(val)
    assert chosen.errors_reviewed / chosen.validation_errors >= review.ERROR_CAPTURE
    assert chosen.cases_reviewed == int((margins <= chosen.margin).sum())
    assert "80%" in chosen.table().loc["rule"].iloc[0]


def test_test_data_cannot_choose_the_cutoff(data_dir: Path, tmp_path: Path) -> None:
    from cxr_lib.models.cnn import read_threshold

    threshold = read_threshold(RUN)
    # nothing in the signature can carry test predictions or test labels
    assert list(inspect.signature(review.choose_cutoff).parameters) == ["validation_predictions", "threshold", "capture", "data_dir",
                                                                         "validation_indices", "selection"]
    assert "test" not in " ".join(inspect.signature(study.review_cutoff).parameters)
    # the test predictions are refused as validation predictions
    with pytest.raises(PredictionsError, match="val split"):
        review.choose_cutoff(RUN / "predictions_test.csv", threshold)
    # permuting the test labels in the run folder leaves the cut-off unchanged
    run = tmp_path / "run"
    run.mkdir()
    for name in ("predictions_val.csv", "checkpoint.json"):
        shutil.copy(RUN / name, run / name)
    test = pd.read_csv(RUN / "predictions_test.csv")
    test.assign(label=np.random.default_rng(0).permutation(test["label"].to_numpy())).to_csv(run / "predictions_test.csv", index=False)
    assert study.review_cutoff(run / "predictions_val.csv") == study.review_cutoff(RUN / "predictions_val.csv")
    # a threshold from another run does not reproduce the validation calls
    with pytest.raises(PredictionsError, match="does not reproduce"):
        review.choose_cutoff(RUN / "predictions_val.csv", 0.9)
    with pytest.raises(ParameterError):
        review.choose_cutoff(RUN / "predictions_val.csv", threshold, capture=0.0)


def test_amended_cutoff_uses_only_the_val_images_independent_of_train(data_dir: Path, tmp_path: Path) -> None:
    from cxr_lib.data import patients
    from cxr_lib.data.predictions import read_predictions
    from cxr_lib.models.cnn import read_threshold

    threshold = read_threshold(RUN)
    independent = patients.independent_val(data_dir)
    amended = study.review_cutoff()  # the study's cut-off applies the amendment
    assert amended.validation_cases == len(independent) < 524 and amended.selection == independent.describe()
    assert "2026-12-07" == review.AMENDMENT_DATE
    # brute force on the independent images only
    val = read_predictions(RUN / "predictions_val.csv", "val")
    val = val[val["index"].isin(independent.indices)]
    margins = review.margin(val["prob_pneumonia"], threshold)
    wrong = (val["prob_pneumonia"] >= threshold).to_numpy() != (val["label"] == 1).to_numpy()
    reaching = [m for m in np.unique(margins) if (margins[wrong] <= m).mean() >= review.ERROR_CAPTURE]
    assert amended.margin == pytest.approx(min(reaching)) and amended.validation_errors == int(wrong.sum())
    # what the left-out val images say cannot move it
    spoiled = read_predictions(RUN / "predictions_val.csv", "val")
    out = ~spoiled["index"].isin(independent.indices)
    spoiled.loc[out, "prob_pneumonia"] = 1 - spoiled.loc[out, "prob_pneumonia"]
    spoiled.loc[out, "pred"] = (spoiled.loc[out, "prob_pneumonia"] >= threshold).astype(int)
    shutil.copy(RUN / "checkpoint.json", tmp_path / "checkpoint.json")
    spoiled.to_csv(tmp_path / "predictions_val.csv", index=False)
    assert study.review_cutoff(tmp_path / "predictions_val.csv").margin == amended.margin
    assert review.choose_cutoff(tmp_path / "predictions_val.csv", threshold).margin != amended.margin
    with pytest.raises(ParameterError, match="only val images"):
        review.choose_cutoff(RUN / "predictions_val.csv", threshold, validation_indices=[10_000])
    assert "Wilson" in amended.table().loc["validation errors reviewed"].iloc[0]


def test_sensitivity_analysis_of_the_share(data_dir: Path) -> None:
    from cxr_lib.models.cnn import read_threshold

    predictions = study.cnn_predictions()
    shares, precision = study.review_shares(predictions)
    assert [s for _, s in shares.index] == ["75%", "80%", "90%"] * 2
    threshold = read_threshold(RUN)
    for (selection, share), row in shares.iterrows():
        indices = None if selection.startswith("every") else study.independent_selection()[0]
        cut = review.choose_cutoff(RUN / "predictions_val.csv", threshold, float(share[:-1]) / 100,
                                   validation_indices=indices)
        margins = review.margin(predictions["prob_pneumonia"], threshold)
        assert row["test cases reviewed"] == int((margins <= cut.margin).sum())
    before = shares.loc[("every val image (before the amendment)", "80%")]
    unamended = review.choose_cutoff(RUN / "predictions_val.csv", threshold)
    assert before["validation errors reached"] == f"{unamended.errors_reviewed} of {unamended.validation_errors}"
    sizes = precision.iloc[:, -1].str.extract(r"(\d+) \[(\d+), (\d+)\]").astype(int)
    assert ((sizes[1] <= sizes[0]) & (sizes[0] <= sizes[2])).all()
    assert (shares.xs("80%", level=1)["test cases reviewed"].to_numpy() == sizes[0].to_numpy()).all()


CNN = pd.DataFrame({
    "index": [0, 1, 2, 3, 4, 5],
    "label": [0, 1, 0, 1, 0, 1],
    "prob_pneumonia": [0.45, 0.35, 0.30, 0.42, 0.999, 0.001],  # threshold 0.4: cases 0-3 are near it
    "pred": [1, 0, 0, 1, 1, 0],
})


def test_review_policy() -> None:
    vlm = pd.DataFrame({"index": [0, 1, 2, 3, 4, 5],
                        "label": ["normal", "pneumonia", "pneumonia", "uncertain", "normal", "pneumonia"]})
    decisions = review.review(CNN, vlm, cutoff()).set_index("index")
    assert decisions["reviewed"].tolist() == [True, True, True, True, False, False]
    # reviewed: MedGemma's clear call is final (0, 1 corrected; 2 a new error); uncertain keeps the CNN (3)
    assert decisions["final"].tolist() == [0, 1, 1, 1, 1, 0]  # 4, 5 not reviewed: the CNN's calls stand
    result = review.net_change(decisions.reset_index())
    assert result["corrections (CNN wrong → right)"] == 2 and result["new errors (CNN right → wrong)"] == 1
    assert result["reviewed by MedGemma"] == 4 and result["MedGemma abstained"] == 1
    both, only_cnn, only_review, neither = 1, 1, 2, 2  # cnn right & final right: case 3; cnn right only: 2; ...
    expected = evaluate.paired_difference_ci(both, only_review, only_cnn, neither)
    assert result["difference in accuracy [95% CI, Newcombe paired]"] == (
        f"{expected.value:+.3f} [{expected.low:+.3f}, {expected.high:+.3f}]")
    assert result["net change (corrections − new errors)"].startswith("+1 [")
    # the bounds: every uncertain reading taken as one call
    as_normal = review.review(CNN, vlm, cutoff(), uncertain_as="normal").set_index("index")
    assert as_normal.loc[3, "final"] == 0
    with pytest.raises(ParameterError):
        review.review(CNN, vlm, cutoff(), uncertain_as="maybe")


def test_net_change_needs_every_reviewed_case_read() -> None:
    vlm = pd.DataFrame({"index": [0, 1], "label": ["normal", "pneumonia"]})
    with pytest.raises(ParameterError, match="2 reviewed case"):
        review.net_change(review.review(CNN, vlm, cutoff()))


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def test_projection_interval_matches_an_independent_computation() -> None:
    # 8 of 42 CNN errors corrected, 1 new error in a sample of 100 of the 582 correct calls
    errors = pd.DataFrame({"reviewed": True, "vlm": "normal", "final_correct": [True] * 8 + [False] * 34})
    correct = pd.DataFrame({"reviewed": True, "vlm": "normal", "final_correct": [False] + [True] * 99})
    result = review.projected_net_change(errors, correct, 42, 582)
    (fl, fh), (hl, hh) = _wilson(8, 42), _wilson(1, 100)
    net = 8 - 582 / 100
    low = net - np.sqrt((8 - 42 * fl) ** 2 + (582 * hh - 5.82) ** 2)
    high = net + np.sqrt((42 * fh - 8) ** 2 + (5.82 - 582 * hl) ** 2)
    assert result["projected net change on the split (cases) [95% CI, MOVER]"] == f"{net:+.1f} [{low:+.1f}, {high:+.1f}] of 624"
    assert low < -15 and high > 9  # "+2.2" alone would hide an interval this wide


def test_primary_review_on_the_whole_split_or_projected(data_dir: Path) -> None:
    from cxr_lib.data.datasets import load_split

    test = load_split("test")
    predictions = study.cnn_predictions()
    cut = study.review_cutoff()
    names = ["cnn-false-positives", "cnn-false-negatives", "cnn-correct-sample", "cnn-review"]
    cases = study.select_cases(names, test, predictions, study.DEFAULT_PREDICTIONS, None, 40, review=cut)
    truth = predictions.set_index("index")["label"]
    indices = study.all_indices(cases)
    agree = pd.DataFrame({"index": indices, "label": [["normal", "pneumonia"][truth[i]] for i in indices]})
    whole = study.primary_review(predictions, agree, cut, cases)
    assert whole.loc["scope", "as read"].startswith("the whole test split")
    assert whole.loc["cases", "as read"] == len(test)
    # a reader that is always right corrects every reviewed error and breaks nothing
    reviewed_errors = int((cut.reviewed(predictions["prob_pneumonia"]) & (predictions["pred"] != predictions["label"])).sum())
    assert whole.loc["corrections (CNN wrong → right)", "as read"] == reviewed_errors
    assert whole.loc["new errors (CNN right → wrong)", "as read"] == 0
    # without cnn-review, the same readings give a projection, and the table says so
    enriched = {k: v for k, v in cases.items() if k != "cnn-review"}
    only = agree[agree["index"].isin(study.all_indices(enriched))]
    projected = study.primary_review(predictions, only, cut, enriched)
    assert projected.loc["scope", "as read"].startswith("PROJECTED")
    missing = study.primary_review(predictions, only, cut, {"cnn-false-positives": cases["cnn-false-positives"]})
    assert missing.loc["scope", "as read"].startswith("NOT COMPUTED") and "cnn-review" in missing.loc["scope", "as read"]
