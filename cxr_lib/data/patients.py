"""Which child each image comes from, read from its Kermany file name, and the val images independent of train.

**The rule** (:func:`patient_id`). Kermany et al.'s file names identify the child within one folder:

- ``person<N>_bacteria_<k>.jpeg`` and ``person<N>_virus_<k>.jpeg`` (the PNEUMONIA folder): child ``person<N>``;
- ``IM-<NNNN>-<k>.jpeg``, ``NORMAL2-IM-<NNNN>-<k>.jpeg`` and the same with a further ``-<j>`` (the NORMAL
  folder): child ``IM-<NNNN>``. ``NORMAL2-IM-<NNNN>`` and ``IM-<NNNN>`` are read as the same child, as the
  data's own notes say; where they are not, this only merges two children into one group, which makes an
  interval wider and the independent val images fewer — never the other way.

A leading folder (``PNEUMONIA/``) is ignored. Kermany's *train* and *test* folders are numbered apart (the
same ``person<N>`` in both has never had the same bacteria/virus label), so each id carries its folder:
``train:person13`` and ``test:person13`` are different children. MedMNIST's train and val splits were
both cut from the train folder, so their ids share the ``train:`` namespace. A name that does not follow
the rule raises :class:`~cxr_lib.errors.DataError` instead of being guessed.

Only images matched to their original carry a file name (:data:`cxr_lib.data.datasets.HR_PAIRS_FILE` for
train and val, :data:`~cxr_lib.data.datasets.HR_SUBSET_FILE` for test); for the others the child is
unknown: :func:`groups` gives each such image a group of its own, and :func:`independent_val` leaves
them out (a child who cannot be named cannot be shown to be absent from train).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Sequence

import numpy as np
import pandas as pd

from cxr_lib.data.datasets import HR_PAIR_SPLITS, HRPairs, hr_test_source_names, load_hr_pairs, load_hr_reference, load_split
from cxr_lib.errors import DataError

#: Kermany's folders: MedMNIST's train and val splits come from ``train``, its test split from ``test``.
FOLDER_OF_SPLIT = {"train": "train", "val": "train", "test": "test"}
_NAME = re.compile(r"^(?:(?P<person>person\d+)_(?:bacteria|virus)_\d+|(?:NORMAL2-)?(?P<normal>IM-\d+)(?:-\d+)+)\.jpe?g$",
                   re.IGNORECASE)
#: The rule in one line, for tables and pages.
PATIENT_RULE = ("child = person<N> in person<N>_bacteria|virus_<k>.jpeg, IM-<NNNN> in [NORMAL2-]IM-<NNNN>-<k>.jpeg, "
                "within Kermany's train or test folder")


def patient_id(source_name: str, folder: str) -> str:
    """The child behind a Kermany file name, as ``<folder>:<id>`` (see the module docstring)."""
    if folder not in ("train", "test"):
        raise DataError(f"Kermany folder {folder!r} is neither 'train' nor 'test'")
    base = PurePosixPath(str(source_name).replace("\\", "/")).name
    match = _NAME.match(base)
    if match is None:
        raise DataError(f"file name {source_name!r} does not follow Kermany's naming (person<N>_bacteria_<k>.jpeg, "
                        "IM-<NNNN>-<k>.jpeg): the patient cannot be read from it; check the data file")
    local = match.group("person").lower() if match.group("person") else match.group("normal").upper()
    return f"{folder}:{local}"


def _from_names(indices: Sequence[int], names: Sequence[str], folder: str) -> pd.Series:
    return pd.Series([patient_id(n, folder) for n in names], index=pd.Index([int(i) for i in indices], name="index"),
                     name="patient", dtype=object)


def pair_patients(pairs: HRPairs) -> pd.Series:
    """The child of each matched train or val image, by its index in the 28×28 split."""
    return _from_names(pairs.indices, pairs.source_names, FOLDER_OF_SPLIT[pairs.split])


def split_patients(split: str, data_dir: str | os.PathLike | None = None) -> pd.Series:
    """The child of each image of ``split`` that has a file name, by its index in the 28×28 split
    (images without one are absent: their child is unknown). Empty for a test reference without names."""
    if split in HR_PAIR_SPLITS:
        return pair_patients(load_hr_pairs(split, data_dir))
    names = hr_test_source_names(data_dir)
    if names is None:
        return pd.Series([], index=pd.Index([], name="index", dtype=np.int64), name="patient", dtype=object)
    return _from_names(load_hr_reference(data_dir).test_index, names, "test")


def groups(indices: Sequence[int], patients: pd.Series) -> np.ndarray:
    """One group label per image of ``indices``: its child, or a group of its own (``unknown:<index>``)
    where the child is unknown. For resampling patients instead of images."""
    known = patients.to_dict()
    return np.array([known.get(int(i), f"unknown:{int(i)}") for i in indices], dtype=object)


@dataclass(frozen=True)
class IndependentVal:
    """The val images whose child has no image in train, and what was left out."""

    indices: tuple[int, ...]  # val indices kept, in order
    val_images: int  # every image of the val split
    unknown: int  # val images without a file name: child unknown, left out
    shared: int  # val images whose child also has a train image, left out
    val_children: int  # children among the named val images
    shared_children: int  # of them, children with a train image
    train_unknown: int  # train images without a file name (their children cannot be checked)

    def __len__(self) -> int:
        return len(self.indices)

    def describe(self) -> str:
        """One sentence: how many val images remain and why the others were left out."""
        named = self.val_images - self.unknown
        return (f"{len(self)} of {self.val_images} val images: {self.shared} of the {named} with a file name come from "
                f"{self.shared_children} of {self.val_children} children who also have train images, and {self.unknown} "
                f"have no file name (child unknown); {self.train_unknown} train images have no file name either, so a "
                "child could still be shared through one of them")


def independent_val(data_dir: str | os.PathLike | None = None) -> IndependentVal:
    """The val images whose child (:func:`patient_id`) has no image in train; val images without a
    file name are left out, since their child cannot be checked."""
    train, val = split_patients("train", data_dir), split_patients("val", data_dir)
    val_split, train_split = load_split("val", data_dir=data_dir), load_split("train", data_dir=data_dir)
    in_train = set(train)
    keep = val[~val.isin(in_train)]
    shared = val[val.isin(in_train)]
    return IndependentVal(tuple(sorted(int(i) for i in keep.index)), len(val_split), len(val_split) - len(val),
                          len(shared), int(val.nunique()), int(shared.nunique()), len(train_split) - len(train))
