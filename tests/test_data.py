"""The data layer: splits, sources, the HR reference, case sets, and every bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxr_lib.data import cases, datasets as data
from cxr_lib.errors import CaseSetError, DataError, DataNotFoundError, HRUnavailableError, SplitError


def write_npz(folder: Path, name: str = "pneumoniamnist.npz", **overrides: np.ndarray) -> Path:
    """A small MedMNIST-layout file, with any array replaced or removed (value None)."""
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for split, n in (("train", 6), ("val", 4), ("test", 5)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / name, **arrays)
    return folder / name


def run_cli(*args: str, env_data: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    env["CXR_DATA_DIR"] = str(env_data) if env_data else ""
    env["HOME"] = "/nonexistent"  # keeps ~/.medmnist out of the search (and nothing is written beside the data)
    return subprocess.run([sys.executable, "-m", "cxr_lib", *args], capture_output=True, text=True, env=env)


# --------------------------------------------------------------------------- real data


def test_real_splits_sizes_and_sources(data_dir: Path) -> None:
    test = data.load_split("test", data_dir=data_dir)
    assert len(test) == 624 and test.class_counts() == {"normal": 234, "pneumonia": 390}
    assert test.images.dtype == np.uint8 and test.images.shape == (624, 28, 28)
    assert len(data.load_split("val", data_dir=data_dir)) == 524
    train = data.load_split("train", data_dir=data_dir)
    assert len(train) == 4707 and not train.source.official
    assert "not the official" in train.source.describe()


def test_reference_cases_have_the_documented_labels(data_dir: Path) -> None:
    test = data.load_split("test", data_dir=data_dir)
    labels = {i: test.label(i) for i in data.REFERENCE_CASES}
    assert labels[22] == 1
    assert all(v == 0 for i, v in labels.items() if i != 22)


def test_hr_reference_is_aligned_with_the_28px_images(data_dir: Path) -> None:
    test = data.load_split("test", data_dir=data_dir)
    hr = data.load_hr_reference(data_dir)
    assert len(hr) == 555 and not hr.official
    assert all(hr.has(i) for i in data.REFERENCE_CASES)
    for index in (22, 1, hr.available()[-1]):
        small = np.asarray(Image.fromarray(hr.image(index)).resize((28, 28), Image.Resampling.BOX), dtype=float)
        correlation = np.corrcoef(small.ravel(), test.image(index).astype(float).ravel())[0, 1]
        assert correlation > 0.95, (index, correlation)
    missing = sorted(set(range(624)) - set(hr.available()))[0]
    with pytest.raises(HRUnavailableError, match=f"test index {missing}"):
        hr.image(missing)


def test_cli_data_prints_the_summary(data_dir: Path) -> None:
    result = run_cli("data", env_data=data_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "test: 624 images (234 normal / 390 pneumonia)" in out
    assert "val: 524 images" in out
    assert "train: 4707 images" in out and "not the official" in out
    assert "555 test images have one" in out


# --------------------------------------------------------------------------- case sets


def test_case_sets(data_dir: Path, tmp_path: Path) -> None:
    labels = data.load_split("test", data_dir=data_dir).labels
    assert cases.load_case_set("reference").indices == data.REFERENCE_CASES
    sample = cases.load_case_set("sample", labels=labels, n=60, seed=3)
    assert len(sample) == 60 and len(set(sample.indices)) == 60
    assert sample == cases.load_case_set("sample", labels=labels, n=60, seed=3)
    assert sample != cases.load_case_set("sample", labels=labels, n=60, seed=4)
    share = labels[list(sample.indices)].mean()
    assert abs(share - labels.mean()) < 0.03  # stratified
    assert len(cases.load_case_set("test", labels=labels)) == 624
    saved = sample.save(tmp_path / "cases.json")
    assert cases.load_case_set(str(saved)) == sample


def test_cnn_case_sets_from_predictions() -> None:
    import pandas as pd

    frame = pd.DataFrame({"index": range(8), "label": [0, 0, 1, 1, 0, 1, 0, 1], "pred": [1, 0, 0, 1, 1, 1, 0, 1]})
    assert cases.cases_from_predictions(frame, "cnn-errors").indices == (0, 2, 4)
    assert cases.cases_from_predictions(frame, "cnn-false-positives").indices == (0, 4)
    assert cases.cases_from_predictions(frame, "cnn-false-negatives").indices == (2,)
    correct = cases.cases_from_predictions(frame, "cnn-correct-sample", n=3, seed=0)
    assert len(correct) == 3 and set(correct.indices) <= {1, 3, 5, 6, 7}
    # one dispatch for every name: a predictions table (or a CSV of one) serves the cnn-* sets
    assert cases.load_case_set("cnn-false-positives", predictions=frame) == cases.cases_from_predictions(
        frame, "cnn-false-positives")
    with pytest.raises(CaseSetError, match="unknown CNN case set 'cnn-nonsense'"):
        cases.load_case_set("cnn-nonsense", predictions=frame)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cases.load_case_set("nonsense"), "unknown case set 'nonsense'"),
        (lambda: cases.load_case_set("cnn-errors"), "needs the CNN's predictions"),
        (lambda: cases.stratified_sample(np.array([0, 1, 1]), 5), "sample size 5 is out of range"),
        (lambda: cases.load_case_set("missing.json"), "does not exist"),
    ],
)
def test_bad_case_sets(call, message: str) -> None:
    with pytest.raises(CaseSetError, match=message):
        call()


# --------------------------------------------------------------------------- bad input


def test_synthetic_file_loads(tmp_path: Path) -> None:
    write_npz(tmp_path)
    split = data.load_split("val", data_dir=tmp_path)
    assert len(split) == 4 and split.labels.tolist() == [0, 1, 0, 1]
    assert not split.source.official


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"test_labels": None}, "has no test_labels"),
        ({"test_images": np.zeros((5, 28, 28), dtype=np.float32)}, "dtype float32: expected uint8"),
        ({"test_images": np.zeros((5, 28), dtype=np.uint8)}, r"shape \(5, 28\): expected \(N, H, W\)"),
        ({"test_images": np.zeros((5, 32, 32), dtype=np.uint8)}, "32×32 images: expected 28×28"),
        ({"test_labels": np.array([[0], [1], [2], [0], [1]], dtype=np.uint8)}, r"labels \[2\] outside"),
        ({"test_labels": np.zeros((3, 1), dtype=np.uint8)}, r"shape \(3, 1\): expected \(5,\)"),
    ],
)
def test_bad_files(tmp_path: Path, overrides: dict, message: str) -> None:
    write_npz(tmp_path, **overrides)
    with pytest.raises(DataError, match=message):
        data.load_split("test", data_dir=tmp_path)


def test_truncated_and_non_zip_files(tmp_path: Path) -> None:
    good = write_npz(tmp_path / "a")
    truncated = tmp_path / "b" / "pneumoniamnist.npz"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(DataError, match="not a readable .npz"):
        data.load_split("test", data_dir=truncated.parent)
    text = tmp_path / "c" / "pneumoniamnist.npz"
    text.parent.mkdir()
    text.write_text("this is not a zip file")
    with pytest.raises(DataError, match="not a readable .npz"):
        data.load_split("test", data_dir=text.parent)


def test_unknown_split_size_and_index(tmp_path: Path) -> None:
    write_npz(tmp_path)
    with pytest.raises(SplitError, match="unknown split 'dev'"):
        data.load_split("dev", data_dir=tmp_path)
    with pytest.raises(SplitError, match="unknown image size 100"):
        data.load_split("test", size=100, data_dir=tmp_path)
    split = data.load_split("test", data_dir=tmp_path)
    with pytest.raises(SplitError, match="index 7 is out of range for the test split"):
        split.image(7)


def test_missing_data_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXR_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "default_root", lambda: tmp_path / "medmnist_root")
    with pytest.raises(DataNotFoundError, match="set CXR_DATA_DIR"):
        data.load_split("test")

    import medmnist

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(medmnist, "PneumoniaMNIST", offline)
    with pytest.raises(DataNotFoundError, match="could not download"):
        data.load_split("test", download=True)


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (lambda d: None, ["data"], "pneumoniamnist.npz not found"),
        (lambda d: write_npz(d, test_labels=None), ["data"], "has no test_labels"),
        (lambda d: (d / "pneumoniamnist.npz").write_text("junk"), ["data"], "not a readable .npz"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, setup, args: list[str], message: str) -> None:
    tmp_path.mkdir(exist_ok=True)
    setup(tmp_path)
    result = run_cli(*args, env_data=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_import_is_cheap() -> None:
    code = "import sys, cxr_lib, cxr_lib.data.datasets, cxr_lib.cli, cxr_lib.analysis.evaluate; cxr_lib.data.datasets.dataset_info(); print(sorted(m for m in ('torch', 'transformers', 'gradio', 'timm') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_data_layer_imports_nothing_above_it() -> None:
    """The data layer (splits, predictions, case sets, images) loads no model, analysis or app module."""
    code = ("import sys, cxr_lib.data.datasets, cxr_lib.data.predictions, cxr_lib.data.cases, cxr_lib.data.images; "
            "print(sorted(m for m in sys.modules if m.startswith(('cxr_lib.models', 'cxr_lib.analysis', 'cxr_lib.app'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
