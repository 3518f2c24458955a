"""The second-opinion review, fixed in advance: MedGemma is consulted where the CNN is not confident.

The CNN calls pneumonia when P(pneumonia) ≥ its threshold ``t`` (chosen on the validation split,
Youden's J). Its confidence in a case is measured from that threshold, on the logit scale:
``margin = |logit(p) - logit(t)|`` — zero at the threshold and growing either way, so a CNN whose
threshold is 0.36 is not "unsure" at p = 0.5.

**The cut-off** (:func:`choose_cutoff`) is chosen on the CNN's validation predictions alone (no
test data, no VLM output): the smallest margin at or below which at least :data:`ERROR_CAPTURE`
(80 %) of the CNN's validation errors fall. A test case whose margin is at or below it is reviewed.
Since the amendment of :data:`AMENDMENT_DATE` (made before any MedGemma result) only the validation
images whose child has no image in train choose it (``validation_indices``;
:func:`cxr_lib.data.patients.independent_val`): the others come from children the CNN was trained
on. :func:`share_table` gives the cut-off and the review set at each share of :data:`SENSITIVITY_SHARES` (the pre-specified
sensitivity analysis), and :func:`review_size_interval` how far the review set's size moves when the
validation children are resampled — the precision the cut-off has.

**The policy** (:func:`review`): on a reviewed case MedGemma's clear call is the final call (it
agrees with the CNN, or overrides it); an *uncertain* reading, an abstention, leaves the CNN's call.
Cases not reviewed keep the CNN's call.

**The result** (:func:`net_change`): the CNN alone against CNN + review on the same cases —
corrections (CNN wrong → right), new errors (CNN right → wrong), the net change (corrections − new
errors), the difference in accuracy with Newcombe's paired interval, and the exact McNemar test.
When MedGemma read every reviewed test case this covers the whole test split and nothing is
projected; otherwise :func:`projected_net_change` projects from enriched case sets (the CNN's errors
and a sample of its correct calls), with a MOVER interval, and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.evaluate import (
    BOOTSTRAP_SAMPLES,
    as_class,
    linear_combination_ci,
    mcnemar_exact,
    paired_difference_ci,
    proportion_ci,
)
from cxr_lib.analysis.resampling import Resampled, bootstrap_weights, interval
from cxr_lib.data.predictions import read_predictions
from cxr_lib.errors import ParameterError, PredictionsError

#: Share of the CNN's validation errors the review must reach (fixed before any VLM result).
ERROR_CAPTURE = 0.8
#: The shares of the pre-specified sensitivity analysis.
SENSITIVITY_SHARES = (0.75, 0.8, 0.9)
#: The date of the amendment that chooses the cut-off on the validation images independent of train.
AMENDMENT_DATE = "2026-12-07"
CUTOFF_RULE = ("the smallest margin |logit(p) - logit(t)| at or below which at least {share:.0%} of the "
               "CNN's validation errors fall (validation predictions only; no test data, no VLM output)")


def margin(probabilities: Iterable[float], threshold: float) -> np.ndarray:
    """The CNN's confidence: ``|logit(p) - logit(threshold)|`` for each probability."""
    from scipy.special import logit

    p = np.clip(np.asarray(list(probabilities), dtype=float), 1e-12, 1 - 1e-12)
    return np.abs(logit(p) - logit(threshold))


@dataclass(frozen=True)
class ReviewCutoff:
    """The review cut-off and the validation facts it was chosen from."""

    threshold: float  # the CNN's decision threshold on P(pneumonia)
    margin: float  # cases with margin <= this are reviewed
    capture: float  # the share of validation errors the rule had to reach
    validation_cases: int
    validation_errors: int
    errors_reviewed: int  # validation errors at or below the cut-off
    cases_reviewed: int  # validation cases at or below the cut-off
    selection: str = "every validation image"  # which validation images chose it

    def reviewed(self, probabilities: Iterable[float]) -> np.ndarray:
        """Which cases (by P(pneumonia)) the review sends to the VLM."""
        return margin(probabilities, self.threshold) <= self.margin

    def table(self) -> pd.DataFrame:
        """The cut-off, its rule and what it does on the validation split, for display."""
        reached = proportion_ci(self.errors_reviewed, self.validation_errors)
        rows = {
            "CNN threshold t on P(pneumonia)": f"{self.threshold:.4f} (Youden's J on the validation split, at training)",
            "review cut-off on |logit(p) - logit(t)|": f"{self.margin:.3f}",
            "rule": CUTOFF_RULE.format(share=self.capture),
            "validation images that chose it": self.selection,
            "validation errors reviewed": (f"{self.errors_reviewed} of {self.validation_errors} (share reached "
                                           f"{reached.value:.0%}, 95% Wilson interval {reached.low:.0%}–{reached.high:.0%})"
                                           if self.validation_errors else "0 of 0"),
            "validation cases reviewed": (f"{self.cases_reviewed} of {self.validation_cases} "
                                          f"({self.cases_reviewed / max(self.validation_cases, 1):.1%})"),
        }
        return pd.DataFrame({"": list(rows.values())}, index=list(rows))


def validation_frame(validation_predictions: str | os.PathLike, threshold: float,
                     validation_indices: Sequence[int] | None = None,
                     data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The CNN's validation predictions (checked: the whole val split, its labels, calls at ``threshold``),
    restricted to ``validation_indices`` when given, with each case's ``margin`` and whether it is an ``error``."""
    if not 0 < threshold < 1:
        raise ParameterError(f"CNN threshold {threshold!r} is out of range: expected a probability in (0, 1)")
    frame = read_predictions(validation_predictions, "val", data_dir)
    probs = frame["prob_pneumonia"].to_numpy()
    if not np.array_equal((probs >= threshold).astype(int), frame["pred"].to_numpy()):
        raise PredictionsError(f"threshold {threshold:.4f} does not reproduce the pred column of {validation_predictions}: "
                               "pass the threshold of the run that wrote it (its checkpoint.json)")
    if validation_indices is not None:
        keep = {int(i) for i in validation_indices}
        if not keep or not keep <= set(frame["index"]):
            raise ParameterError("validation_indices must name some val images, and only val images")
        frame = frame[frame["index"].isin(keep)].reset_index(drop=True)
    return frame.assign(margin=margin(frame["prob_pneumonia"], threshold),
                        error=(frame["prob_pneumonia"] >= threshold) != (frame["label"] == 1))


def _cut(error_margins: np.ndarray, capture: float) -> float:
    errors = np.sort(np.asarray(error_margins, dtype=float))
    return float(errors[int(np.ceil(capture * len(errors))) - 1]) if len(errors) else 0.0


def choose_cutoff(validation_predictions: str | os.PathLike, threshold: float, capture: float = ERROR_CAPTURE,
                  data_dir: str | os.PathLike | None = None, validation_indices: Sequence[int] | None = None,
                  selection: str | None = None) -> ReviewCutoff:
    """The review cut-off from the CNN's **validation** predictions CSV (see the module docstring).

    The file must be the validation split's (checked against its size and labels), so no test
    prediction or label can choose the cut-off; ``threshold`` must reproduce its ``pred`` column.
    ``validation_indices``: only these val images choose it (``selection`` says which, for the table).
    """

    if not 0 < capture <= 1:
        raise ParameterError(f"error capture {capture!r} is out of range: choose a share in (0, 1]")
    frame = validation_frame(validation_predictions, threshold, validation_indices, data_dir)
    margins, errors = frame["margin"].to_numpy(), frame.loc[frame["error"], "margin"].to_numpy()
    cut = _cut(errors, capture)
    chosen = selection or ("every validation image" if validation_indices is None else f"{len(frame)} validation images")
    return ReviewCutoff(float(threshold), cut, float(capture), len(frame), len(errors),
                        int((errors <= cut).sum()), int((margins <= cut).sum()), chosen)


def share_table(validation_predictions: str | os.PathLike, threshold: float, test_probabilities: Sequence[float],
                selections: dict[str, Sequence[int] | None], shares: Sequence[float] = SENSITIVITY_SHARES,
                data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The pre-specified sensitivity analysis: for each share of validation errors to reach and each
    selection of validation images (name → indices, ``None`` for all), the cut-off, the errors it reaches,
    and how many test cases it sends to review (counted from the CNN's test probabilities only)."""
    rows = []
    for name, indices in selections.items():
        for share in shares:
            cutoff = choose_cutoff(validation_predictions, threshold, share, data_dir, indices)
            rows.append({"validation images": name, "share of errors to reach": f"{share:.0%}",
                         "cut-off": round(cutoff.margin, 3),
                         "validation errors reached": f"{cutoff.errors_reviewed} of {cutoff.validation_errors}",
                         "test cases reviewed": int(cutoff.reviewed(test_probabilities).sum())})
    return pd.DataFrame(rows).set_index(["validation images", "share of errors to reach"])


def review_size_interval(validation: pd.DataFrame, groups: Sequence[object], threshold: float,
                         test_probabilities: Sequence[float], capture: float = ERROR_CAPTURE,
                         n_resamples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Resampled:
    """How many test cases the rule sends to review, with a 95% interval over validation sets resampled by
    child (``validation``: :func:`validation_frame`; ``groups``: its children): the precision of a cut-off
    chosen from that many validation errors."""
    weights = bootstrap_weights(groups, n_resamples, seed)
    error = validation["error"].to_numpy(bool)
    order = np.argsort(validation["margin"].to_numpy()[error], kind="stable")
    margins = validation["margin"].to_numpy()[error][order]
    caught = np.cumsum(weights[:, error][:, order], axis=1)
    total = caught[:, -1:] if len(margins) else np.zeros((len(weights), 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        reaching = caught / total >= capture - 1e-12
    cuts = np.where(total[:, 0] > 0, margins[np.argmax(reaching, axis=1)] if len(margins) else 0.0, 0.0)
    test_margins = np.sort(margin(test_probabilities, threshold))
    return interval(np.searchsorted(test_margins, cuts, side="right").astype(float))


def review(predictions: pd.DataFrame, readings: pd.DataFrame, cutoff: ReviewCutoff,
           uncertain_as: str | None = None) -> pd.DataFrame:
    """The final call for every case of ``predictions`` under the review policy.

    ``predictions``: the CNN's (``index, label, prob_pneumonia, pred``); ``readings``: MedGemma's
    (``index``, ``label`` normal / pneumonia / uncertain). ``uncertain_as`` (``"pneumonia"`` or
    ``"normal"``) reads every uncertain reading as that call, for the bounds; by default an
    abstention leaves the CNN's call. Columns added: ``margin``, ``reviewed``, ``vlm`` (the reading,
    NaN where MedGemma did not read the case), ``final``, ``cnn_correct``, ``final_correct``.
    """

    if uncertain_as not in (None, "pneumonia", "normal"):
        raise ParameterError(f"uncertain_as {uncertain_as!r}: expected None, 'pneumonia' or 'normal'")
    if readings["index"].duplicated().any():
        raise ParameterError("readings list a case more than once: pass one reading per case (one condition)")
    merged = predictions[["index", "label", "prob_pneumonia", "pred"]].merge(
        readings[["index", "label"]].rename(columns={"label": "vlm"}), on="index", how="left")
    merged["margin"] = margin(merged["prob_pneumonia"], cutoff.threshold)
    merged["reviewed"] = cutoff.reviewed(merged["prob_pneumonia"])
    vlm = merged["vlm"].where(~merged["vlm"].eq("uncertain") | (uncertain_as is None), uncertain_as)
    call = vlm.map(as_class)
    use = merged["reviewed"] & call.notna()
    merged["final"] = np.where(use, call, merged["pred"]).astype(int)
    merged["cnn_correct"] = merged["pred"] == merged["label"]
    merged["final_correct"] = merged["final"] == merged["label"]
    return merged


def _require_readings(decisions: pd.DataFrame) -> None:
    missing = int((decisions["reviewed"] & decisions["vlm"].isna()).sum())
    if missing:
        raise ParameterError(f"{missing} reviewed case(s) have no MedGemma reading: run the cnn-review case set")


def net_change(decisions: pd.DataFrame) -> dict[str, object]:
    """CNN alone against CNN + review on the cases of ``decisions`` (every reviewed case read)."""

    _require_readings(decisions)
    cnn, final = decisions["cnn_correct"].to_numpy(bool), decisions["final_correct"].to_numpy(bool)
    corrections, new_errors = int((~cnn & final).sum()), int((cnn & ~final).sum())
    n = len(decisions)
    difference = paired_difference_ci(int((cnn & final).sum()), corrections, new_errors, int((~cnn & ~final).sum()))
    reviewed = decisions["reviewed"].to_numpy(bool)
    return {
        "cases": n,
        "reviewed by MedGemma": int(reviewed.sum()),
        "MedGemma abstained": int((reviewed & decisions["vlm"].eq("uncertain").to_numpy()).sum()),
        "corrections (CNN wrong → right)": corrections,
        "new errors (CNN right → wrong)": new_errors,
        "net change (corrections − new errors)": f"{corrections - new_errors:+d} "
                                                 f"[{difference.low * n:+.1f}, {difference.high * n:+.1f}]",
        "CNN alone: accuracy": str(proportion_ci(int(cnn.sum()), n)),
        "CNN + review: accuracy": str(proportion_ci(int(final.sum()), n)),
        "difference in accuracy [95% CI, Newcombe paired]": (
            f"{difference.value:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}]" if n else "n/a"),
        "exact McNemar p": round(mcnemar_exact(final, cnn)["p_value"], 4) if n else float("nan"),
    }


def projected_net_change(errors: pd.DataFrame, correct_sample: pd.DataFrame, n_errors: int, n_correct: int) -> dict[str, object]:
    """Net change on a whole split projected from enriched case sets: the correction rate measured on
    the CNN's errors (``errors``, decisions of :func:`review`) scaled to ``n_errors``, the new-error rate
    measured on a sample of its correct calls scaled to ``n_correct``; MOVER interval on the sum."""

    _require_readings(errors)
    _require_readings(correct_sample)
    fixed, broken = int(errors["final_correct"].sum()), int((~correct_sample["final_correct"]).sum())
    net = linear_combination_ci([(fixed, len(errors), n_errors), (broken, len(correct_sample), -n_correct)])
    total = n_errors + n_correct
    return {
        "correction rate on the CNN's errors": str(proportion_ci(fixed, len(errors))),
        "new-error rate on the CNN's correct calls (sample)": str(proportion_ci(broken, len(correct_sample))),
        "projected net change on the split (cases) [95% CI, MOVER]": (
            f"{net.value:+.1f} [{net.low:+.1f}, {net.high:+.1f}] of {total}"),
        "projected difference in accuracy [95% CI, MOVER]": (
            f"{net.value / total:+.3f} [{net.low / total:+.3f}, {net.high / total:+.3f}]"),
    }
