"""Children read from Kermany's file names: the rule, its namespaces, and the val images independent of train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib.data import patients
from cxr_lib.data.datasets import load_hr_pairs
from cxr_lib.errors import DataError


@pytest.mark.parametrize(
    "name, folder, child",
    [
        ("PNEUMONIA/person13_bacteria_50.jpeg", "train", "train:person13"),
        ("person13_virus_7.jpeg", "train", "train:person13"),  # bacteria and virus images of one child
        ("NORMAL/IM-0738-0001.jpeg", "train", "train:IM-0738"),
        ("NORMAL/NORMAL2-IM-0738-0001.jpeg", "train", "train:IM-0738"),  # the data's notes: same child
        ("NORMAL/IM-0549-0001-0002.jpeg", "train", "train:IM-0549"),  # a further -<j> keeps the child
        ("person157_bacteria_739.jpeg", "test", "test:person157"),
        ("Person7_Virus_2.JPEG", "test", "test:person7"),
    ],
)
def test_the_rule_reads_the_child(name: str, folder: str, child: str) -> None:
    assert patients.patient_id(name, folder) == child


def test_train_and_test_folders_are_numbered_apart() -> None:
    assert patients.patient_id("person1_virus_11.jpeg", "test") != patients.patient_id("person1_virus_6.jpeg", "train")
    assert patients.FOLDER_OF_SPLIT == {"train": "train", "val": "train", "test": "test"}


@pytest.mark.parametrize("name", ["", "scan_0001.png", "person_bacteria_3.jpeg", "IM-12.jpeg", "personX_virus_1.jpeg"])
def test_a_name_off_the_rule_is_refused_not_guessed(name: str) -> None:
    with pytest.raises(DataError, match="does not follow Kermany's naming"):
        patients.patient_id(name, "train")
    with pytest.raises(DataError, match="neither 'train' nor 'test'"):
        patients.patient_id("person1_virus_1.jpeg", "val")


def test_unknown_children_are_groups_of_their_own() -> None:
    known = pd.Series(["test:person1", "test:person1", "test:IM-0001"], index=[3, 5, 8])
    assert list(patients.groups([3, 5, 8, 9, 10], known)) == ["test:person1", "test:person1", "test:IM-0001", "unknown:9", "unknown:10"]


def test_every_matched_name_in_the_data_follows_the_rule(data_dir: Path) -> None:
    for split in ("train", "val", "test"):
        children = patients.split_patients(split, data_dir)
        assert len(children) and children.str.match(r"^(train|test):(person\d+|IM-\d+)$").all()
        assert children.str.startswith("test:" if split == "test" else "train:").all()
    test = patients.split_patients("test", data_dir)
    assert test.nunique() < len(test)  # several test images come from one child


def test_independent_val_keeps_only_children_absent_from_train(data_dir: Path) -> None:
    kept = patients.independent_val(data_dir)
    val, train = load_hr_pairs("val", data_dir), load_hr_pairs("train", data_dir)
    # brute force over the raw file names, with the rule written out again here
    def child(name: str) -> str:
        base = name.split("/")[-1]
        return base.split("_")[0] if base.startswith("person") else "IM-" + base.split("IM-")[1].split("-")[0]

    train_children = {child(n) for n in train.source_names}
    expected = sorted(int(i) for i, n in zip(val.indices, val.source_names) if child(n) not in train_children)
    assert list(kept.indices) == expected
    assert len(kept) + kept.shared + kept.unknown == kept.val_images == 524
    assert kept.unknown == 524 - len(val) and kept.train_unknown == 4707 - len(train)
    assert 0 < kept.shared_children <= kept.val_children
    text = kept.describe()
    assert text.startswith(f"{len(kept)} of 524 val images") and f"{kept.unknown} have no file name" in text
    assert not set(kept.indices) - set(int(i) for i in val.indices)  # an unnamed val image is never kept
    assert np.all(np.diff(kept.indices) > 0)
