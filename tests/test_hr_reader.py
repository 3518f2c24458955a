"""The high-resolution reader: training on a slice of the real originals, its checkpoint, its inputs,
committed predictions checked against the data, the evaluation tables, and one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib.analysis import reader as reader_analysis
from cxr_lib.cli import main
from cxr_lib.errors import CheckpointError, ParameterError, PredictionsError
from cxr_lib.models import hr_reader
from cxr_lib.training import hr_reader as reader_training

SLICE = {"epochs": 1, "train_limit": 64, "val_limit": 32, "progress": False}


def cli_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run `cxr` expecting a one-line error and exit status 2; return the line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cxr: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> hr_reader.Reader:
    """One epoch on a class-stratified slice of the real train originals."""
    return reader_training.train_reader("cpu", tmp_path_factory.mktemp("reader") / "r", seed=0, **SLICE).reader


# --------------------------------------------------------------------------- training and checkpoints


def test_training_on_a_slice_records_how_it_was_made(trained: hr_reader.Reader) -> None:
    record = trained.record
    assert record["data"]["train_images"] == 64 and record["data"]["val_images"] == 32
    assert record["data"]["test_overlap"]["near_duplicates"] == 0 and record["data"]["test_overlap"]["shared_sources"] == 0
    assert 0 < trained.threshold < 1 and record["threshold_rule"].startswith("Youden")
    assert record["input_size"] == 112 and record["in_chans"] == 1 and len(record["history"]) == 1
    assert {p.name for p in trained.path.iterdir()} == {hr_reader.WEIGHTS_FILE, hr_reader.RECORD_FILE}


def test_checkpoint_round_trip_gives_the_same_probabilities(trained: hr_reader.Reader, hr) -> None:
    loaded = hr_reader.load_reader(trained.path)
    images = [np.asarray(hr.images[k][::2, ::2]) for k in range(4)]  # 224 → 112
    assert np.array_equal(loaded.probabilities(images), trained.probabilities(images))
    assert loaded.threshold == trained.threshold


def test_same_seed_same_weights(trained: hr_reader.Reader, tmp_path: Path) -> None:
    again = reader_training.train_reader("cpu", tmp_path / "again", seed=0, **SLICE).reader
    assert (again.path / hr_reader.WEIGHTS_FILE).read_bytes() == (trained.path / hr_reader.WEIGHTS_FILE).read_bytes()


def test_damaged_checkpoints_are_refused(trained: hr_reader.Reader, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = Path(shutil.copytree(trained.path, tmp_path / "copy"))
    (copy / hr_reader.WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        hr_reader.load_reader(copy)
    assert "missing or incomplete" in cli_error(capsys, ["reader", "predict", "--checkpoint", str(tmp_path / "none"),
                                                         "--out", str(tmp_path / "p.csv")])


# --------------------------------------------------------------------------- inputs and predictions


def test_every_input_is_112_grayscale(test_split, hr) -> None:
    for name in ("hr", "lanczos", "nearest"):
        images = reader_analysis.input_images(test_split, hr, [22, 1], name)
        assert all(image.shape == (112, 112) and image.dtype == np.uint8 for image in images)
    real = reader_analysis.input_images(test_split, hr, [22], "hr")[0]
    assert not np.array_equal(real, reader_analysis.input_images(test_split, hr, [22], "lanczos")[0])
    with pytest.raises(ParameterError, match="unknown reader input 'sharp'"):
        reader_analysis.check_inputs(["hr", "sharp"])


def test_committed_predictions_are_checked(trained: hr_reader.Reader, test_split, hr, tmp_path: Path) -> None:
    indices = hr.available(test_split.indices)
    frame = reader_analysis.predict_inputs(trained, test_split, hr, ["hr", "lanczos"], indices)
    path = reader_analysis.write_predictions(frame, tmp_path / "p.csv")
    read = reader_analysis.load_committed(path, trained, test_split, hr, ["lanczos"], spot_check=2)
    assert set(read["input"]) == {"lanczos"} and len(read) == len(indices)
    broken = frame.copy()
    broken.loc[(broken["input"] == "lanczos") & (broken["index"] == indices[0]), "prob_pneumonia"] = 0.999999
    broken.loc[(broken["input"] == "lanczos") & (broken["index"] == indices[0]), "pred"] = 1
    reader_analysis.write_predictions(broken, tmp_path / "b.csv")
    with pytest.raises(PredictionsError, match="recomputed now"):
        reader_analysis.load_committed(tmp_path / "b.csv", trained, test_split, hr, ["lanczos"], spot_check=1)
    reader_analysis.write_predictions(frame[frame["index"] != indices[-1]], tmp_path / "short.csv")
    with pytest.raises(PredictionsError, match="do not cover"):
        reader_analysis.load_committed(tmp_path / "short.csv", trained, test_split, hr, ["hr"], spot_check=0)
    with pytest.raises(PredictionsError, match="do not exist"):
        reader_analysis.load_committed(tmp_path / "none.csv", trained, test_split, hr, ["hr"])


def test_cli_predict_writes_a_table(trained: hr_reader.Reader, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p.csv"
    assert main(["reader", "predict", "--checkpoint", str(trained.path), "--inputs", "hr,nearest", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(reader_analysis.PREDICTION_COLUMNS) and set(frame["input"]) == {"hr", "nearest"}
    assert "unknown reader input" in cli_error(capsys, ["reader", "predict", "--checkpoint", str(trained.path),
                                                        "--inputs", "hr,magic", "--out", str(out)])
    assert "unknown reader preset" in cli_error(capsys, ["reader", "train", "--preset", "huge", "--out", str(tmp_path)])
    assert "epochs must be at least 1" in cli_error(capsys, ["reader", "train", "--epochs", "0", "--out", str(tmp_path)])


# --------------------------------------------------------------------------- evaluation


def synthetic(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Three inputs on the same cases: one that separates the classes, one that is noise, and the CNN."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    perfect = np.where(labels == 1, 0.8, 0.2) + rng.uniform(-0.1, 0.1, n)
    noise = rng.uniform(0, 1, n)
    rows = [pd.DataFrame({"input": name, "index": np.arange(n), "label": labels, "prob_pneumonia": p,
                          "pred": (p >= 0.5).astype(int)}) for name, p in (("hr", perfect), ("lanczos", noise))]
    return pd.concat(rows, ignore_index=True)


def test_summary_and_paired_tables() -> None:
    frame = synthetic()
    summary = reader_analysis.summary_table(frame, n_resamples=200)
    assert summary.loc["hr", "AUC"] == 1.0 and summary.loc["lanczos", "AUC"] < 0.8
    assert summary.loc["lanczos", "AUC low"] < summary.loc["lanczos", "AUC"] < summary.loc["lanczos", "AUC high"]
    assert summary.loc["hr", "sensitivity"].startswith("1.000") and "(30/30)" in summary.loc["hr", "specificity"]
    paired = reader_analysis.paired_table(frame)
    row = paired.iloc[0]
    assert (row["A"], row["B"]) == ("hr", "lanczos") and row["AUC B − A"] < -0.2 and row["DeLong p"] < 0.001
    wrong = frame[frame["input"] == "lanczos"]
    assert row["right only with A"] == int((wrong["pred"] != wrong["label"]).sum())  # hr is always right
    assert row["right only with B"] == 0 and row["McNemar p"] < 0.01
    assert (paired["DeLong p (Holm)"] >= paired["DeLong p"]).all()
    assert "loses" in reader_analysis.findings(summary, paired)


def test_cnn_row_joins_on_the_same_cases() -> None:
    frame = synthetic()
    cnn = pd.DataFrame({"index": np.arange(100), "label": [0, 1] * 50, "prob_pneumonia": np.linspace(0, 1, 100),
                        "pred": (np.linspace(0, 1, 100) >= 0.5).astype(int)})
    joined = reader_analysis.with_cnn(frame, cnn)
    assert set(joined["input"]) == {"cnn-28", "hr", "lanczos"}
    assert sorted(joined.loc[joined["input"] == "cnn-28", "index"]) == list(range(60))
    pairs = reader_analysis.default_pairs(list(dict.fromkeys(joined["input"])))
    assert ("hr", "lanczos") in pairs and ("cnn-28", "lanczos") in pairs and ("cnn-28", "hr") in pairs
    assert ("hr", "cnn-28") not in pairs and ("lanczos", "lanczos") not in pairs
    with pytest.raises(ParameterError, match="cannot compare"):
        reader_analysis.paired_table(frame, [("hr", "swin2sr")])


def test_threshold_note_counts_the_calls() -> None:
    frame = synthetic()
    note = reader_analysis.threshold_note(frame)
    lanczos = frame[(frame["input"] == "lanczos") & (frame["label"] == 0)]
    share = f"{(lanczos['pred'] == 1).mean():.0%} of 30 normal images called pneumonia"
    assert "real original (112×112): 0% of 30 normal images called pneumonia, 100% of 30 pneumonia images found" in note
    assert share in note
