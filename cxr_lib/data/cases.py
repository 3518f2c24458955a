"""Named case sets: ordered lists of test indices, each with a sentence on how it was chosen.

The reference analysis's ten cases, seeded stratified samples, the whole test split, and the
sets drawn from the CNN's test predictions (its errors, false positives, false negatives and a
sample of its correct calls). :func:`load_case_set` turns any of these names, or a saved
case-set JSON file, into a :class:`CaseSet`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_lib.data.datasets import REFERENCE_CASES, load_split
from cxr_lib.data.predictions import read_predictions
from cxr_lib.errors import CaseSetError
from cxr_lib.storage import atomic_write_text


@dataclass(frozen=True)
class CaseSet:
    """A named, ordered list of test indices with a sentence on how it was chosen."""

    name: str
    indices: tuple[int, ...]
    description: str

    def __len__(self) -> int:
        return len(self.indices)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the case set as JSON (atomically)."""
        payload = {"name": self.name, "description": self.description, "indices": list(self.indices)}
        return atomic_write_text(Path(path), json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CaseSet":
        """Read a case set written by :meth:`save`."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text())
            return cls(str(payload["name"]), tuple(int(i) for i in payload["indices"]), str(payload["description"]))
        except FileNotFoundError as exc:
            raise CaseSetError(f"case-set file {path} does not exist: run `cxr baseline predict` first") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CaseSetError(f"{path} is not a case-set file (expected JSON with name, description, indices)") from exc


def reference_cases() -> CaseSet:
    """The ten test images the reference analysis used."""
    return CaseSet(
        "reference",
        REFERENCE_CASES,
        "the first ten test errors of the reference analysis's MaxViT (index 22 pneumonia, the rest normal)",
    )


def stratified_sample(labels: np.ndarray, n: int, seed: int = 0, name: str = "sample") -> CaseSet:
    """A seeded sample of ``n`` test indices keeping the class proportions."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    if not 0 < n <= len(labels):
        raise CaseSetError(f"sample size {n} is out of range: choose 1 to {len(labels)}")
    if n == len(labels):
        chosen = np.arange(len(labels))
    else:
        min_class = int(np.bincount(labels).min())
        stratify = labels if n >= 2 and min_class >= 2 else None
        chosen, _ = train_test_split(
            np.arange(len(labels)), train_size=n, stratify=stratify, random_state=seed
        )
    return CaseSet(name, tuple(sorted(int(i) for i in chosen)), f"{n} test images, stratified by class, seed {seed}")


def full_test_set(labels: np.ndarray) -> CaseSet:
    """Every image of the test split."""
    return CaseSet("test", tuple(range(len(labels))), f"the whole test split ({len(labels)} images)")


#: The case sets drawn from the CNN's test predictions.
CNN_CASE_SETS = ("cnn-errors", "cnn-false-positives", "cnn-false-negatives", "cnn-correct-sample")
#: Every case set known by name.
CASE_SET_NAMES = ("reference", "sample", "test", *CNN_CASE_SETS)


def cases_from_predictions(predictions: pd.DataFrame, kind: str, n: int = 50, seed: int = 0) -> CaseSet:
    """CNN-derived case sets from a predictions table (columns ``index, label, pred``)."""
    frame = predictions
    wrong = frame["pred"] != frame["label"]
    if kind == "cnn-errors":
        rows, text = frame[wrong], "every test image the CNN got wrong"
    elif kind == "cnn-false-positives":
        rows, text = frame[wrong & (frame["label"] == 0)], "normal test images the CNN called pneumonia"
    elif kind == "cnn-false-negatives":
        rows, text = frame[wrong & (frame["label"] == 1)], "pneumonia test images the CNN called normal"
    elif kind == "cnn-correct-sample":
        right = frame[~wrong]
        sample = stratified_sample(right["label"].to_numpy(), min(n, len(right)), seed)
        chosen = right["index"].to_numpy()[list(sample.indices)]
        return CaseSet(kind, tuple(sorted(int(i) for i in chosen)),
                       f"{len(chosen)} test images the CNN got right, stratified by class, seed {seed}")
    else:
        raise CaseSetError(f"unknown CNN case set {kind!r}: expected one of {', '.join(CNN_CASE_SETS)}")
    return CaseSet(kind, tuple(int(i) for i in rows["index"]), text)


def write_case_sets(frame: pd.DataFrame, folder: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write the CNN case sets (errors, false positives, false negatives, a correct sample) as JSON."""
    return {kind: cases_from_predictions(frame, kind, seed=seed).save(Path(folder) / f"{kind}.json")
            for kind in CNN_CASE_SETS}


def load_case_set(
    name: str,
    labels: np.ndarray | None = None,
    predictions: pd.DataFrame | str | os.PathLike | None = None,
    n: int = 50,
    seed: int = 0,
) -> CaseSet:
    """A case set by name; ``name`` may also be the path of a saved case-set JSON file.

    ``labels`` (the test labels) are needed for ``sample`` and ``test``; ``predictions`` (the CNN's
    test predictions: a table, or a CSV written by ``cxr baseline predict``) for the ``cnn-*`` sets.
    """
    if name == "reference":
        return reference_cases()
    if name in ("sample", "test"):
        if labels is None:
            labels = load_split("test").labels
        return stratified_sample(labels, n, seed) if name == "sample" else full_test_set(labels)
    if name.startswith("cnn-"):
        if predictions is None:
            raise CaseSetError(f"case set {name!r} needs the CNN's predictions: pass a predictions CSV")
        frame = predictions if isinstance(predictions, pd.DataFrame) else read_predictions(predictions)
        return cases_from_predictions(frame, name, n, seed)
    if name.endswith(".json"):
        return CaseSet.load(name)
    raise CaseSetError(
        f"unknown case set {name!r}: expected one of {', '.join(CASE_SET_NAMES)} or a .json case-set file"
    )
