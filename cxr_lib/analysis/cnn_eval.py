"""The CNN baseline measured: metrics with confidence intervals, the MedMNIST v2 benchmark table,
its figures, and the run behind ``cxr baseline predict`` (predict a split, then measure and write).

The model, its training loop and checkpoints are :mod:`cxr_lib.models.cnn`; the whole run behind
``cxr baseline train`` is :mod:`cxr_lib.training.cnn`; the predictions table is
:mod:`cxr_lib.data.predictions`, and the case sets drawn from it :mod:`cxr_lib.data.cases`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.evaluate import BOOTSTRAP_SAMPLES, Estimate, auc_ci, binary_metrics
from cxr_lib.analysis.plots import confusion_matrix_figure, roc_figure, save_figure
from cxr_lib.data.cases import reference_cases, write_case_sets
from cxr_lib.data.datasets import check_split
from cxr_lib.data.predictions import write_predictions
from cxr_lib.errors import ParameterError
from cxr_lib.models.cnn import Checkpoint, load_checkpoint, predict_split

#: MedMNIST v2 benchmark on PneumoniaMNIST test (Yang et al., Scientific Data 2023, Table 3).
MEDMNIST_V2_BENCHMARK: dict[str, dict[str, float]] = {
    "ResNet-18 (28)": {"auc": 0.944, "accuracy": 0.854},
    "ResNet-18 (224)": {"auc": 0.956, "accuracy": 0.864},
    "ResNet-50 (28)": {"auc": 0.948, "accuracy": 0.854},
    "ResNet-50 (224)": {"auc": 0.962, "accuracy": 0.884},
    "auto-sklearn": {"auc": 0.942, "accuracy": 0.855},
    "AutoKeras": {"auc": 0.947, "accuracy": 0.878},
    "Google AutoML Vision": {"auc": 0.991, "accuracy": 0.946},
}


# --------------------------------------------------------------------------- evaluation


def evaluate_predictions(labels: Sequence[int], probs: Sequence[float], threshold: float,
                         n_resamples: int | None = None) -> dict[str, Estimate]:
    """AUC (bootstrap CI), accuracy, sensitivity and specificity (Wilson CIs) at ``threshold``."""
    probs = np.asarray(probs, dtype=float)
    metrics = {"auc": auc_ci(labels, probs, n_resamples=n_resamples or BOOTSTRAP_SAMPLES)}
    metrics.update(binary_metrics(labels, (probs >= threshold).astype(int)))
    return metrics


def evaluate_frame(frame: pd.DataFrame, n_resamples: int | None = None) -> dict[str, Estimate]:
    """:func:`evaluate_predictions` for a predictions table (uses its ``pred`` column)."""
    metrics = {"auc": auc_ci(frame["label"], frame["prob_pneumonia"], n_resamples=n_resamples or BOOTSTRAP_SAMPLES)}
    metrics.update(binary_metrics(frame["label"], frame["pred"]))
    return metrics


def confusion_counts(frame: pd.DataFrame) -> dict[str, int]:
    """True/false positives and negatives (positive = pneumonia)."""
    label, pred = frame["label"].to_numpy(), frame["pred"].to_numpy()
    return {
        "tn": int(((label == 0) & (pred == 0)).sum()), "fp": int(((label == 0) & (pred == 1)).sum()),
        "fn": int(((label == 1) & (pred == 0)).sum()), "tp": int(((label == 1) & (pred == 1)).sum()),
    }


def headline(metrics: dict[str, Estimate]) -> dict[str, dict[str, float]]:
    """Metrics as plain ``{name: {value, low, high}}`` for JSON."""
    return {k: {"value": round(e.value, 6), "low": round(e.low, 6), "high": round(e.high, 6)} for k, e in metrics.items()}


def headline_line(metrics: dict[str, Estimate]) -> str:
    """One line: AUC, accuracy, sensitivity, specificity with their intervals."""
    return "; ".join(f"{name} {metrics[name]}" for name in ("auc", "accuracy", "sensitivity", "specificity") if name in metrics)


def benchmark_table(metrics: dict[str, Estimate], name: str = "this MaxViT") -> pd.DataFrame:
    """These test metrics beside the MedMNIST v2 benchmark rows (AUC and accuracy)."""
    rows = [{"model": name, "auc": metrics["auc"].value, "auc 95% CI": f"[{metrics['auc'].low:.3f}, {metrics['auc'].high:.3f}]",
             "accuracy": metrics["accuracy"].value,
             "accuracy 95% CI": f"[{metrics['accuracy'].low:.3f}, {metrics['accuracy'].high:.3f}]",
             "source": "this project"}]
    rows += [{"model": model, "auc": row["auc"], "auc 95% CI": "", "accuracy": row["accuracy"],
              "accuracy 95% CI": "", "source": "MedMNIST v2 (Yang et al. 2023)"} for model, row in MEDMNIST_V2_BENCHMARK.items()]
    return pd.DataFrame(rows).set_index("model")


def reference_overlap(frame: pd.DataFrame) -> dict[str, Any]:
    """How this CNN does on the reference analysis's ten cases (which of them it gets wrong)."""
    cases = reference_cases().indices
    rows = frame.set_index("index").loc[list(cases)]
    wrong = [int(i) for i in rows.index[rows["pred"] != rows["label"]]]
    return {"reference_cases": list(cases), "also_wrong_here": wrong}


# --------------------------------------------------------------------------- the prediction run (CLI)


@dataclass
class EvaluationRun:
    """What a prediction run wrote and measured."""

    split: str
    predictions_path: Path
    metrics: dict[str, Estimate]
    confusion: dict[str, int]
    case_sets: dict[str, Path]
    threshold: float

    def summary_lines(self) -> list[str]:
        c = self.confusion
        lines = [f"{self.split}: {headline_line(self.metrics)}",
                 f"{self.split} confusion at threshold {self.threshold:.4f}: TP {c['tp']}, FN {c['fn']}, TN {c['tn']}, FP {c['fp']}",
                 f"wrote {self.predictions_path}"]
        lines += [f"wrote {path} ({name})" for name, path in self.case_sets.items()]
        return lines


def run_prediction(checkpoint: str | os.PathLike | Checkpoint, split: str, out: str | os.PathLike,
                   data_dir: str | os.PathLike | None = None, case_sets: bool = True) -> EvaluationRun:
    """Predict a split with a checkpoint, write the CSV, and (test split) the CNN case sets beside it."""
    check_split(split)
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ParameterError(f"predictions output {out} should be a .csv file path")
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    frame = predict_split(ckpt, split, data_dir)
    write_predictions(frame, out)
    written = write_case_sets(frame, out.parent) if (case_sets and split == "test") else {}
    return EvaluationRun(split, out, evaluate_frame(frame), confusion_counts(frame), written, ckpt.threshold)


def write_figures(frame: pd.DataFrame, threshold: float, folder: str | os.PathLike,
                  label: str = "MaxViT") -> list[Path]:
    """Save the test confusion matrix and ROC curve as PNGs in ``folder``."""
    folder = Path(folder)
    title = f"{label} on the test split"
    return [
        save_figure(confusion_matrix_figure(frame["label"], frame["pred"], title=title),
                    folder / "confusion_matrix_test.png"),
        save_figure(roc_figure(frame["label"], frame["prob_pneumonia"], threshold=threshold, title=title,
                               label=label), folder / "roc_test.png"),
    ]
