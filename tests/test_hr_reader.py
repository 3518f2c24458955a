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


def test_every_input_is_112_grayscale(test_split, hr, data_dir: Path) -> None:
    for name in ("hr", "lanczos", "nearest"):
        images = reader_analysis.input_images(test_split, hr, [22, 1], name)
        assert all(image.shape == (112, 112) and image.dtype == np.uint8 for image in images)
    real = reader_analysis.input_images(test_split, hr, [22], "hr")[0]
    assert not np.array_equal(real, reader_analysis.input_images(test_split, hr, [22], "lanczos")[0])
    with pytest.raises(ParameterError, match="unknown reader input 'sharp'"):
        reader_analysis.check_inputs(["hr", "sharp"])
    # on val, the real original is the 112×112 original itself, and the upscalers read the 28×28 val image
    from cxr_lib.data.datasets import load_hr_pairs, load_split

    pairs, val = load_hr_pairs("val", data_dir), load_split("val", data_dir=data_dir)
    originals = reader_analysis.load_originals("val", data_dir)
    first = int(pairs.indices[0])
    assert np.array_equal(reader_analysis.input_images(val, originals, [first], "hr")[0], pairs.high[0])
    assert np.array_equal(pairs.low[0], val.image(first))
    assert originals.available() == sorted(int(i) for i in pairs.indices)
    with pytest.raises(ParameterError, match="not 'train'"):
        reader_analysis.check_split("train")


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
    assert not frame["stand_in"].any() and frame.groupby("input").size().eq(555).all()
    val = tmp_path / "v.csv"
    assert main(["reader", "predict", "--checkpoint", str(trained.path), "--split", "val", "--inputs", "hr", "--out", str(val)]) == 0
    assert len(pd.read_csv(val)) == 469
    assert "not 'train'" in cli_error(capsys, ["reader", "predict", "--checkpoint", str(trained.path), "--split", "train",
                                               "--out", str(out)])
    assert "unknown reader input" in cli_error(capsys, ["reader", "predict", "--checkpoint", str(trained.path),
                                                        "--inputs", "hr,magic", "--out", str(out)])
    assert "unknown reader preset" in cli_error(capsys, ["reader", "train", "--preset", "huge", "--out", str(tmp_path)])
    assert "epochs must be at least 1" in cli_error(capsys, ["reader", "train", "--epochs", "0", "--out", str(tmp_path)])


# --------------------------------------------------------------------------- the family and its tables


def synthetic(n: int = 80, seed: int = 0, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Every family input and the CNN on the same cases: scores that separate the classes, plus noise;
    ``shift`` moves one input's normal scores up (a calibration shift, no change in ranking)."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    rows = []
    for k, name in enumerate((*reader_analysis.FAMILY, reader_analysis.CNN_ROW)):
        p = np.clip(np.where(labels == 1, 0.7, 0.3) + rng.normal(0, 0.15 + 0.02 * k, n), 0.001, 0.999)
        p = np.where(labels == 0, np.clip(p + (shift or {}).get(name, 0.0), 0, 0.999), p)
        rows.append(pd.DataFrame({"input": name, "index": np.arange(n), "label": labels, "prob_pneumonia": p,
                                  "pred": (p >= 0.5).astype(int), "stand_in": False}))
    return pd.concat(rows, ignore_index=True)


def draws_of(frame: pd.DataFrame, children: int | None = None, n_resamples: int = 300) -> reader_analysis.Resamples:
    cases = sorted(set(frame["index"]))
    groups = {i: f"child{i % children}" if children else f"image{i}" for i in cases}
    return reader_analysis.Resamples.of(frame, groups, n_resamples)


def test_the_family_is_fixed_in_code() -> None:
    pairs = reader_analysis.FAMILY_PAIRS
    assert len(pairs) == len(set(pairs)) == 17
    assert {b for a, b in pairs if a == "hr"} == set(reader_analysis.FAMILY[1:]) | {"cnn-28"}
    assert {("lanczos", "swin2sr-cxr"), ("nearest", "swin2sr-cxr"), ("nearest", "realesrgan-x4plus")} <= set(pairs)
    table = reader_analysis.family_comparisons(draws_of(synthetic()))
    assert len(table) == len(pairs) and (table["p (Holm)"] >= table["p"] - 1e-12).all()
    # Holm over the whole family: the smallest p is multiplied by the family's size
    smallest = table["p"].idxmin()
    assert table.loc[smallest, "p (Holm)"] == pytest.approx(min(1.0, table.loc[smallest, "p"] * len(pairs)))


def test_tables_give_auc_sensitivity_at_specificity_and_own_thresholds() -> None:
    from sklearn.metrics import roc_auc_score

    frame = synthetic()
    thresholds = pd.Series({name: 0.5 for name in set(frame["input"])})
    table = reader_analysis.family_table(draws_of(frame), thresholds)
    assert list(table.index) == [*reader_analysis.FAMILY, "cnn-28"]
    lanczos = frame[frame["input"] == "lanczos"]
    assert table.loc["lanczos", "AUC"] == pytest.approx(roc_auc_score(lanczos["label"], lanczos["prob_pneumonia"]), abs=1e-4)
    assert table.loc["lanczos", "AUC low"] < table.loc["lanczos", "AUC"] < table.loc["lanczos", "AUC high"]
    found = int(((lanczos["prob_pneumonia"] >= 0.5) & (lanczos["label"] == 1)).sum())
    assert table.loc["lanczos", "sensitivity at own threshold [95% CI]"].endswith(f"({found}/40)")
    assert "sensitivity at 90% specificity [95% CI]" in table.columns


def test_patient_clusters_widen_the_intervals() -> None:
    frame = synthetic(n=120)
    alone = reader_analysis.family_comparisons(draws_of(frame))
    # 12 children of 10 images each (the cases' order interleaves the classes, so each child has both)
    shared = reader_analysis.family_comparisons(draws_of(frame, children=12))
    width = lambda t: (t["high"] - t["low"]).to_numpy()  # noqa: E731
    assert (alone["AUC B − A"].to_numpy() == pytest.approx(shared["AUC B − A"].to_numpy()))
    assert (width(shared) > width(alone)).mean() > 0.5


def test_thresholds_come_from_the_independent_val_images_only() -> None:
    val = synthetic(n=60, seed=4)
    keep = list(range(0, 60, 2)) + list(range(1, 30, 2))
    chosen = reader_analysis.val_thresholds(val, keep)
    spoiled = val.copy()
    spoiled.loc[~spoiled["index"].isin(keep), "prob_pneumonia"] = 0.999  # what the left-out images say does not matter
    assert reader_analysis.val_thresholds(spoiled, keep).equals(chosen)
    assert not reader_analysis.val_thresholds(val, range(60)).equals(chosen)
    with pytest.raises(ParameterError, match="no val image is left"):
        reader_analysis.val_thresholds(val, [])


def test_calibration_table_reports_a_shift_as_calibration() -> None:
    frame = synthetic(shift={"realesrgan-x4plus": 0.35})
    thresholds = reader_analysis.val_thresholds(frame, range(80))
    table = reader_analysis.calibration_table(draws_of(frame), thresholds)
    assert table.loc["realesrgan-x4plus", "specificity, against the real original's"] == "lower"
    assert table.loc["hr", "specificity, against the real original's"] == "—"
    assert table.loc["realesrgan-x4plus", "threshold its own val images choose"] > table.loc["hr", "threshold its own val images choose"]
    assert table.attrs["threshold"] == pytest.approx(thresholds["hr"])


def test_stand_in_rows_never_enter_the_family() -> None:
    frame = synthetic()
    extra = frame[frame["input"] == "lanczos"].assign(input="swin2sr", stand_in=True)
    real_extra = frame[frame["input"] == "lanczos"].assign(input="swin2sr", stand_in=False)
    family, outside, faked = reader_analysis.split_by_provenance(pd.concat([frame, extra]))
    assert set(faked["input"]) == {"swin2sr"} and outside.empty and "swin2sr" not in set(family["input"])
    family, outside, faked = reader_analysis.split_by_provenance(pd.concat([frame, real_extra]))
    assert set(outside["input"]) == {"swin2sr"} and faked.empty
    with pytest.raises(ParameterError, match="came from a STAND-IN"):
        reader_analysis.split_by_provenance(frame.assign(stand_in=frame["input"] == "swin2sr-cxr"))
    with pytest.raises(ParameterError, match="lacks nearest"):
        reader_analysis.split_by_provenance(frame[frame["input"] != "nearest"])


def test_the_family_is_read_whole_whatever_is_predicted_now(trained: hr_reader.Reader, test_split, hr, tmp_path: Path) -> None:
    indices = hr.available(test_split.indices)
    labels = [test_split.label(i) for i in indices]
    rng = np.random.default_rng(0)
    parts = [pd.DataFrame({"input": name, "index": indices, "label": labels, "prob_pneumonia": p,
                           "pred": (p >= trained.threshold).astype(int), "stand_in": False})
             for name in reader_analysis.FAMILY for p in [rng.uniform(0, 1, len(indices))]]
    path = reader_analysis.write_predictions(pd.concat(parts), tmp_path / "family.csv")
    frame, note = reader_analysis.combined_predictions(trained, test_split, hr, ["hr"], path, spot_check=0)
    assert set(frame["input"]) == set(reader_analysis.FAMILY) and "Predicted now on the test images: hr." in note
    assert len(frame) == len(reader_analysis.FAMILY) * len(indices)
    with pytest.raises(ParameterError, match="needs nearest"):
        reader_analysis.combined_predictions(trained, test_split, hr, ["hr"], None)
    stand_in = pd.concat(parts).assign(stand_in=True)
    reader_analysis.write_predictions(stand_in, tmp_path / "fake.csv")
    with pytest.raises(PredictionsError, match="stand-in"):
        reader_analysis.load_committed(tmp_path / "fake.csv", trained, test_split, hr, ["lanczos"], spot_check=0)


def test_committed_predictions_cover_the_family_on_test_and_val(test_split, hr, data_dir: Path) -> None:
    """The committed test and val predictions hold every input of the family, real models only, and match
    the committed reader (one image per input predicted again)."""
    from cxr_lib.data.datasets import load_split

    reader = hr_reader.load_reader("artifacts/hr_reader")
    val = load_split("val", data_dir=data_dir)
    for split, originals, name in ((test_split, hr, "predictions_test.csv"),
                                   (val, reader_analysis.load_originals("val", data_dir), "predictions_val.csv")):
        frame = reader_analysis.load_committed(f"artifacts/hr_reader/{name}", reader, split, originals,
                                               list(reader_analysis.FAMILY), spot_check=1)
        assert list(dict.fromkeys(frame["input"])) == list(reader_analysis.FAMILY)
        assert len(frame) == len(reader_analysis.FAMILY) * len(originals.available(split.indices))


def test_cnn_row_joins_on_the_same_cases() -> None:
    frame = synthetic(n=60).query("input != 'cnn-28'")
    cnn = pd.DataFrame({"index": np.arange(100), "label": [0, 1] * 50, "prob_pneumonia": np.linspace(0, 1, 100),
                        "pred": (np.linspace(0, 1, 100) >= 0.5).astype(int)})
    joined = reader_analysis.with_cnn(frame, cnn)
    assert sorted(joined.loc[joined["input"] == "cnn-28", "index"]) == list(range(60))
    assert not joined.loc[joined["input"] == "cnn-28", "stand_in"].any()
