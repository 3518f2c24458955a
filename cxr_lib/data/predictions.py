"""The CNN's predictions table: its columns, and writing and reading it as a checked CSV.

A predictions table has one row per image of a split: ``index, label, prob_pneumonia, pred``
(``pred`` is 1, pneumonia, where ``prob_pneumonia`` reaches the model's threshold). The CNN
writes one per split (:mod:`cxr_lib.models.cnn`); case sets are drawn from the test table
(:func:`cxr_lib.data.cases.cases_from_predictions`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_lib.data.artifacts import locate
from cxr_lib.data.datasets import Split, load_split
from cxr_lib.errors import PredictionsError
from cxr_lib.storage import atomic_write_text

PREDICTION_COLUMNS = ("index", "label", "prob_pneumonia", "pred")


def predictions_frame(indices: Sequence[int], labels: Sequence[int], probs: Sequence[float], threshold: float) -> pd.DataFrame:
    """The predictions table; ``pred`` is 1 (pneumonia) where ``prob_pneumonia >= threshold``."""
    probs = np.asarray(probs, dtype=float)
    return pd.DataFrame({
        "index": np.asarray(indices, dtype=np.int64),
        "label": np.asarray(labels, dtype=np.int64),
        "prob_pneumonia": probs,
        "pred": (probs >= threshold).astype(np.int64),
    })


def write_predictions(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a predictions table as CSV (atomically; probabilities to 8 decimals)."""
    return atomic_write_text(path, frame[list(PREDICTION_COLUMNS)].to_csv(index=False, float_format="%.8f"))


def read_predictions(path: str | os.PathLike, split: str | Split | None = "test",
                     data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read and check a predictions CSV (``index, label, prob_pneumonia, pred``).

    With ``split`` (a name or a :class:`~cxr_lib.data.datasets.Split`; ``None`` skips the check) the
    table must cover that split exactly, with its labels. Raises :class:`PredictionsError`.
    """
    path = locate(path)
    hint = "write it with `cxr baseline predict`"
    if not path.is_file():
        raise PredictionsError(f"predictions file {path} does not exist: {hint}")
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise PredictionsError(f"{path} is not a readable CSV ({type(exc).__name__}): {hint}") from exc
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise PredictionsError(f"{path} lacks column(s) {', '.join(missing)} (it has {', '.join(map(str, frame.columns)) or 'none'}): "
                               f"expected {', '.join(PREDICTION_COLUMNS)}; {hint}")
    frame = frame[list(PREDICTION_COLUMNS)]
    try:
        frame = frame.astype({"index": np.int64, "label": np.int64, "prob_pneumonia": np.float64, "pred": np.int64})
    except (ValueError, TypeError) as exc:
        raise PredictionsError(f"{path} has non-numeric or empty values: {hint}") from exc
    if not frame["label"].isin([0, 1]).all() or not frame["pred"].isin([0, 1]).all():
        raise PredictionsError(f"{path} has label or pred values other than 0 and 1: {hint}")
    if not frame["prob_pneumonia"].between(0.0, 1.0).all():
        raise PredictionsError(f"{path} has prob_pneumonia values outside [0, 1]: {hint}")
    if split is None:
        return frame
    split = load_split(split, 28, data_dir) if isinstance(split, str) else split
    if len(frame) != len(split):
        raise PredictionsError(f"{path} has {len(frame)} rows but the {split.name} split has {len(split)} images: "
                               f"pass predictions for the {split.name} split")
    if not np.array_equal(np.sort(frame["index"].to_numpy()), split.indices):
        raise PredictionsError(f"{path} does not list each {split.name} index 0 to {len(split) - 1} once: "
                               f"pass predictions for the {split.name} split")
    frame = frame.sort_values("index", kind="stable").reset_index(drop=True)
    wrong = np.flatnonzero(frame["label"].to_numpy() != split.labels)
    if len(wrong):
        raise PredictionsError(f"{path} disagrees with the {split.name} split's labels at {len(wrong)} index(es) "
                               f"(first: {int(wrong[0])}): these predictions are for other data")
    return frame
