"""Training the high-resolution reader (:mod:`cxr_lib.models.hr_reader`) on real 112×112 X-rays.

The reader is trained on the real 112×112 originals of the train pairs
(:func:`cxr_lib.data.datasets.load_hr_pairs`; no test image, checked by
:func:`cxr_lib.data.datasets.check_no_test_overlap`), its epoch selected by AUC on the val originals
and its threshold chosen there (Youden's J, as the CNN's). Its training loop is the CNN baseline's
(:mod:`cxr_lib.models.cnn`), at 112×112; the run is seeded and deterministic on the CPU. The
checkpoint it writes is read back by :func:`cxr_lib.models.hr_reader.load_reader`.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from cxr_lib.analysis.cnn_eval import evaluate_predictions, headline
from cxr_lib.data.datasets import HR_PAIRS_FILE, check_no_test_overlap, file_md5, load_hr_pairs
from cxr_lib.errors import ParameterError
from cxr_lib.models.cnn import THRESHOLD_RULE, ModelSpec, _fit, choose_threshold, class_weights, model_probabilities
from cxr_lib.models.hr_reader import (
    RECORD_FILE,
    RECORD_FORMAT,
    WEIGHTS_FILE,
    Reader,
    build_model,
    get_preset,
    save_reader,
)
from cxr_lib.storage import ensure_writable_dir
from cxr_lib.training.common import limit_pairs, versions


@dataclass
class ReaderTrainingRun:
    """A trained reader and its record."""

    reader: Reader

    def summary_lines(self) -> list[str]:
        """Lines for the console: what was trained, how long it took, how it did on val."""
        record = self.reader.record
        val = record["metrics"]["val"]
        return [
            f"trained the reader {self.reader.describe()} in {record['training']['train_seconds']:.0f} s: "
            f"{record['epochs_run']} of {record['epochs']} epochs, best val AUC {val['auc']['value']:.4f} at epoch "
            f"{record['best_epoch']}",
            f"val originals at the threshold: sensitivity {val['sensitivity']['value']:.3f}, "
            f"specificity {val['specificity']['value']:.3f}",
            f"test split: {record['data']['test_overlap']['summary']}",
            f"wrote {self.reader.path} ({WEIGHTS_FILE}, {RECORD_FILE})",
        ]


def train_reader(
    preset: str = "cpu",
    out: str | os.PathLike = "results/hr_reader",
    seed: int = 0,
    epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
    train_limit: int | None = None,
    val_limit: int | None = None,
    progress: bool = True,
) -> ReaderTrainingRun:
    """Train the reader on the real train originals, keep the epoch with the best val AUC, choose the
    threshold on the val originals, and save it to ``out``.

    ``train_limit`` / ``val_limit`` use a seeded, class-stratified subset of N pairs (for tests).
    """
    import torch


    config = get_preset(preset)
    epochs = config.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    out = ensure_writable_dir(out)
    spec = ModelSpec.from_preset(config)
    train_pairs, val_pairs = load_hr_pairs("train", data_dir), load_hr_pairs("val", data_dir)
    overlap = check_no_test_overlap([train_pairs, val_pairs], data_dir)
    train_pairs, val_pairs = (limit_pairs(train_pairs, train_limit, seed, stratified=True),
                             limit_pairs(val_pairs, val_limit, seed, stratified=True))
    weights = class_weights(train_pairs.labels)

    deterministic_before = torch.are_deterministic_algorithms_enabled()
    started, started_at = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            model = build_model(spec)
            history, best_state, best_epoch = _fit(model, spec, config, epochs, seed, train_pairs.high, train_pairs.labels,
                                                   val_pairs.high, val_pairs.labels, weights, "cpu", progress)
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
    seconds = time.perf_counter() - started
    model.load_state_dict(best_state)
    model.eval()
    val_probs = model_probabilities(model, val_pairs.high, spec)
    threshold = choose_threshold(val_pairs.labels, val_probs)
    record = {
        "description": config.description,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "seed": seed, "epochs": epochs, "epochs_run": len(history), "best_epoch": best_epoch,
        "threshold": threshold, "threshold_rule": THRESHOLD_RULE,
        "training": {k: getattr(config, k) for k in ("batch_size", "lr", "weight_decay", "warmup_epochs", "patience")}
        | {"class_weights": weights.round(6).tolist(), "selection": "best val AUC (on the real originals)",
           "augmentation": "rotation ±10°, shift ±6%, zoom 0.9-1.1, brightness ±0.05, contrast 0.9-1.1, no flips",
           "device": "cpu", "threads": torch.get_num_threads(), "train_seconds": round(seconds, 1),
           "started_utc": started_at},
        "data": {
            "file": HR_PAIRS_FILE, "md5": file_md5(train_pairs.path), "images": "the real 112×112 originals only",
            "train_images": len(train_pairs), "val_images": len(val_pairs),
            "test_overlap": {"summary": overlap.describe(), "shared_sources": len(overlap.shared_sources),
                             "max_correlation": round(overlap.max_correlation, 4), "near_duplicates": overlap.near_duplicates},
        },
        "metrics": {"val": headline(evaluate_predictions(val_pairs.labels, val_probs, threshold))},
        "history": [asdict(h) for h in history],
        "versions": versions("torch", "timm"),
    }
    save_reader(model, spec, record, out)
    return ReaderTrainingRun(Reader(out, spec, threshold, {"format": RECORD_FORMAT, **asdict(spec), **record}, model))
