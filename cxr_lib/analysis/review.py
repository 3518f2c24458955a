"""The second-opinion review, fixed in advance: MedGemma is consulted where the CNN is not confident.

The CNN calls pneumonia when P(pneumonia) ≥ its threshold ``t`` (chosen on the validation split,
Youden's J). Its confidence in a case is measured from that threshold, on the logit scale:
``margin = |logit(p) - logit(t)|`` — zero at the threshold and growing either way, so a CNN whose
threshold is 0.36 is not "unsure" at p = 0.5.

**The cut-off** (:func:`choose_cutoff`) is chosen on the CNN's validation predictions alone (no
test data, no VLM output): the smallest margin at or below which at least :data:`ERROR_CAPTURE`
(80 %) of the CNN's validation errors fall. A test case whose margin is at or below it is reviewed.

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
from typing import Iterable

import numpy as np
import pandas as pd

from cxr_lib.analysis.evaluate import (
    as_class,
    linear_combination_ci,
    mcnemar_exact,
    paired_difference_ci,
    proportion_ci,
)
from cxr_lib.data.predictions import read_predictions
from cxr_lib.errors import ParameterError, PredictionsError

#: Share of the CNN's validation errors the review must reach (fixed before any VLM result).
ERROR_CAPTURE = 0.8
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

    def reviewed(self, probabilities: Iterable[float]) -> np.ndarray:
        """Which cases (by P(pneumonia)) the review sends to the VLM."""
        return margin(probabilities, self.threshold) <= self.margin

    def table(self) -> pd.DataFrame:
        """The cut-off, its rule and what it does on the validation split, for display."""
        rows = {
            "CNN threshold t on P(pneumonia)": f"{self.threshold:.4f} (Youden's J on the validation split)",
            "review cut-off on |logit(p) - logit(t)|": f"{self.margin:.3f}",
            "rule": CUTOFF_RULE.format(share=self.capture),
            "validation errors reviewed": f"{self.errors_reviewed} of {self.validation_errors}",
            "validation cases reviewed": (f"{self.cases_reviewed} of {self.validation_cases} "
                                          f"({self.cases_reviewed / max(self.validation_cases, 1):.1%})"),
        }
        return pd.DataFrame({"": list(rows.values())}, index=list(rows))


def choose_cutoff(validation_predictions: str | os.PathLike, threshold: float, capture: float = ERROR_CAPTURE,
                  data_dir: str | os.PathLike | None = None) -> ReviewCutoff:
    """The review cut-off from the CNN's **validation** predictions CSV (see the module docstring).

    The file must be the validation split's (checked against its size and labels), so no test
    prediction or label can choose the cut-off; ``threshold`` must reproduce its ``pred`` column.
    """

    if not 0 < capture <= 1:
        raise ParameterError(f"error capture {capture!r} is out of range: choose a share in (0, 1]")
    if not 0 < threshold < 1:
        raise ParameterError(f"CNN threshold {threshold!r} is out of range: expected a probability in (0, 1)")
    frame = read_predictions(validation_predictions, "val", data_dir)
    probs, labels = frame["prob_pneumonia"].to_numpy(), frame["label"].to_numpy()
    if not np.array_equal((probs >= threshold).astype(int), frame["pred"].to_numpy()):
        raise PredictionsError(f"threshold {threshold:.4f} does not reproduce the pred column of {validation_predictions}: "
                               "pass the threshold of the run that wrote it (its checkpoint.json)")
    margins = margin(probs, threshold)
    errors = np.sort(margins[(probs >= threshold) != (labels == 1)])
    cut = float(errors[int(np.ceil(capture * len(errors))) - 1]) if len(errors) else 0.0
    return ReviewCutoff(float(threshold), cut, float(capture), len(frame), len(errors),
                        int((errors <= cut).sum()), int((margins <= cut).sum()))


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
