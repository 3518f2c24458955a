"""The whole run behind ``cxr baseline train``: train the CNN, select it on val, then predict, measure and write.

The model, its training loop and checkpoints are :mod:`cxr_lib.models.cnn`; measuring its
predictions (metrics, figures, the benchmark table) is :mod:`cxr_lib.analysis.cnn_eval`.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from cxr_lib.analysis.cnn_eval import (
    MEDMNIST_V2_BENCHMARK,
    EvaluationRun,
    benchmark_table,
    headline,
    reference_overlap,
    run_prediction,
    write_figures,
)
from cxr_lib.data.predictions import read_predictions
from cxr_lib.models.cnn import CONFIG_FILE, THRESHOLD_RULE, WEIGHTS_FILE, Checkpoint, train, write_checkpoint_info
from cxr_lib.storage import atomic_write_json


def run_training(preset: str = "cpu", out: str | os.PathLike = "results/baseline", seed: int = 0,
                 epochs: int | None = None, data_dir: str | os.PathLike | None = None,
                 train_limit: int | None = None, val_limit: int | None = None, progress: bool = True,
                 figures: bool = True) -> tuple[Checkpoint, EvaluationRun, EvaluationRun]:
    """Train, then write val and test predictions, metrics.json, the case sets and the figures into ``out``."""
    ckpt = train(preset, out, seed, epochs, data_dir, train_limit, val_limit, progress=progress)
    out = Path(out)
    val = run_prediction(ckpt, "val", out / "predictions_val.csv", data_dir)
    test = run_prediction(ckpt, "test", out / "predictions_test.csv", data_dir)
    test_frame = read_predictions(test.predictions_path, "test", data_dir)
    metrics = {
        "checkpoint": _shown(out),
        "model": ckpt.spec.describe(),
        "threshold": ckpt.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "val": headline(val.metrics) | {"confusion": val.confusion},
        "test": headline(test.metrics) | {"confusion": test.confusion},
        "reference_analysis": {"accuracy": 0.886, "auc": 0.976, "cases": reference_overlap(test_frame)},
        "medmnist_v2_benchmark": MEDMNIST_V2_BENCHMARK,
        "train_seconds": ckpt.info["training"]["train_seconds"],
    }
    atomic_write_json(out / "metrics.json", metrics)
    info = {k: v for k, v in ckpt.info.items() if k not in asdict(ckpt.spec) and k != "format"}
    items = list(info.items())
    at = next((n for n, (k, _) in enumerate(items) if k == "history"), len(items))  # the metrics go before the history
    info = dict(items[:at] + [("metrics", {"val": metrics["val"], "test": metrics["test"]})] + items[at:])
    write_checkpoint_info(out, ckpt.spec, info)
    if figures:
        write_figures(test_frame, ckpt.threshold, out, label=f"MaxViT ({ckpt.spec.preset} preset)")
    return ckpt, val, test


def _shown(folder: Path) -> str:
    """A folder as recorded in metrics: relative to the current folder when inside it, else its name."""
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return folder.name


def training_summary(ckpt: Checkpoint, val: EvaluationRun, test: EvaluationRun) -> list[str]:
    """Lines for the console after :func:`run_training`: what was trained, where, how well."""
    info = ckpt.info
    best = info["history"][info["best_epoch"] - 1]
    lines = [
        f"trained {ckpt.spec.describe()} in {info['training']['train_seconds']:.0f} s: "
        f"{info['epochs_run']} of {info['epochs']} epochs, best val AUC {best['val_auc']:.4f} at epoch {info['best_epoch']}",
        f"wrote checkpoint {ckpt.path} ({WEIGHTS_FILE}, {CONFIG_FILE}, metrics.json, figures)",
        f"threshold {ckpt.threshold:.4f} ({THRESHOLD_RULE})",
        *val.summary_lines(),
        *test.summary_lines(),
        "test metrics beside the MedMNIST v2 benchmark (PneumoniaMNIST test split):",
        benchmark_table(test.metrics).drop(columns="source").to_string(float_format=lambda v: f"{v:.3f}"),
    ]
    return lines
