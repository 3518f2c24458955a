"""The MaxViT baseline (models.cnn, training.cnn, data.predictions, analysis.cnn_eval): training on a slice, checkpoints,
predictions, case sets, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib.analysis import cnn_eval
from cxr_lib.cli import main
from cxr_lib.data.artifacts import committed
from cxr_lib.data.predictions import PREDICTION_COLUMNS, read_predictions
from cxr_lib.errors import CheckpointError, ModelLoadError, ParameterError, PredictionsError
from cxr_lib.models import cnn

SLICE = ["--epochs", "1", "--train-limit", "96", "--val-limit", "64", "--no-progress"]


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cpu-preset checkpoint trained for one epoch on a slice, through `cxr baseline train`."""
    out = tmp_path_factory.mktemp("baseline") / "ckpt"
    assert main(["baseline", "train", "--preset", "cpu", "--out", str(out), "--seed", "3", *SLICE]) == 0
    return out


@pytest.fixture()
def copy_of(trained: Path, tmp_path: Path):
    """A fresh copy of the trained checkpoint folder, to damage."""
    def make() -> Path:
        return Path(shutil.copytree(trained, tmp_path / "copy"))
    return make


def cli_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run `cxr` expecting a one-line error and exit status 2; return the line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cxr: error: ") and "\n" not in err and "Traceback" not in err
    return err


# --------------------------------------------------------------------------- presets and pieces


def test_presets_build_maxvit_for_grayscale() -> None:
    import timm

    assert set(cnn.PRESETS) == {"cpu", "gpu"}
    cpu = cnn.get_preset("cpu")
    assert cpu.model_name in timm.list_models("maxvit*") and not cpu.pretrained
    assert cnn.get_preset("gpu").pretrained and cnn.get_preset("gpu").input_size == 224
    spec = cnn.ModelSpec.from_preset(cpu)
    model = cnn.build_model(spec)
    import torch

    out = model(cnn.prepare_images(np.zeros((3, 28, 28), np.uint8), spec))
    assert out.shape == (3, 2)
    assert type(model).__name__ == "MaxxVit" and model.stem.conv1.in_channels == 1


def test_unknown_preset_is_one_line_error() -> None:
    with pytest.raises(ParameterError, match="unknown baseline preset 'huge'.*cpu, gpu"):
        cnn.get_preset("huge")


def test_missing_pretrained_weights_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    def offline(*args, **kwargs):
        if kwargs.get("pretrained"):
            raise OSError("We couldn't connect to 'https://huggingface.co'\nsecond line")
        raise AssertionError("unexpected call")

    monkeypatch.setattr(timm, "create_model", offline)
    spec = cnn.ModelSpec.from_preset(cnn.get_preset("gpu"))
    with pytest.raises(ModelLoadError) as info:
        cnn.build_model(spec, pretrained=True)
    assert "maxvit_tiny_tf_224" in str(info.value) and "\n" not in str(info.value)


def test_prepare_images_resizes_normalises_and_augments_reproducibly() -> None:
    import torch

    spec = cnn.ModelSpec.from_preset(cnn.get_preset("cpu"))
    images = np.tile(np.linspace(0, 255, 28, dtype=np.uint8), (4, 28, 1))  # dark left, bright right
    plain = cnn.prepare_images(images, spec)
    assert plain.shape == (4, 1, 32, 32)
    assert plain.min() >= -1.0 and plain.max() <= 1.0
    assert plain[..., :4].mean() < plain[..., -4:].mean()  # no horizontal flip
    a = cnn.prepare_images(images, spec, augment=True, generator=torch.Generator().manual_seed(1))
    b = cnn.prepare_images(images, spec, augment=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, plain)
    assert (a[..., :4].mean(dim=(1, 2, 3)) < a[..., -4:].mean(dim=(1, 2, 3))).all()


def test_choose_threshold_maximises_youden() -> None:
    labels = [0, 0, 0, 1, 1, 1]
    assert 0.3 < cnn.choose_threshold(labels, [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]) < 0.6
    # 0.5 would miss the pneumonia case at 0.4; the best cut sits between 0.35 and 0.4.
    t = cnn.choose_threshold(labels, [0.1, 0.2, 0.35, 0.4, 0.9, 0.95])
    assert 0.35 < t <= 0.4


def test_class_weights_balance_the_classes() -> None:
    w = cnn.class_weights(np.array([0] + [1] * 3))
    assert w[0] * 1 == pytest.approx(w[1] * 3)
    with pytest.raises(ParameterError):
        cnn.class_weights(np.ones(5, dtype=int))


# --------------------------------------------------------------------------- training and checkpoints


def test_train_writes_checkpoint_predictions_metrics_and_case_sets(trained: Path) -> None:
    info = json.loads((trained / "checkpoint.json").read_text())
    for key in ("preset", "model_name", "input_size", "seed", "epochs", "data", "threshold", "metrics", "history"):
        assert key in info
    assert info["preset"] == "cpu" and info["seed"] == 3 and info["input_size"] == 32
    assert info["data"]["train_images"] == 96 and info["data"]["md5"]
    assert set(info["metrics"]) == {"val", "test"} and 0 <= info["metrics"]["test"]["auc"]["value"] <= 1
    assert 0 < info["threshold"] < 1
    for name in ("model.safetensors", "metrics.json", "predictions_val.csv", "predictions_test.csv",
                 "cnn-errors.json", "confusion_matrix_test.png", "roc_test.png"):
        assert (trained / name).is_file(), name
    assert len(info["history"]) == 1 and {"train_loss", "val_auc"} <= set(info["history"][0])


def test_checkpoint_round_trip_gives_identical_logits(trained: Path, data_dir: Path) -> None:
    from cxr_lib.data.datasets import load_split

    images = load_split("test").images[:40]
    first = cnn.load_checkpoint(trained)
    second = cnn.load_checkpoint(trained, preset="cpu")
    a = cnn.model_logits(first.model, images, first.spec)
    b = cnn.model_logits(second.model, images, second.spec)
    assert a.shape == (40, 2) and np.array_equal(a, b)
    frame = pd.read_csv(trained / "predictions_test.csv")
    probs = cnn.model_probabilities(first.model, images, first.spec)
    assert np.allclose(frame["prob_pneumonia"].to_numpy()[:40], probs, atol=1e-7)


def test_same_seed_gives_same_predictions(data_dir: Path, tmp_path: Path) -> None:
    from cxr_lib.data.datasets import load_split

    images = load_split("test").images[:64]
    runs = [cnn.train("cpu", tmp_path / f"run{i}", seed=s, epochs=1, train_limit=48, val_limit=32, progress=False)
            for i, s in enumerate((5, 5, 6))]
    logits = [cnn.model_logits(r.model, images, r.spec) for r in runs]
    assert np.array_equal(logits[0], logits[1])
    assert not np.array_equal(logits[0], logits[2])
    assert runs[0].threshold == runs[1].threshold
    weights = [(tmp_path / f"run{i}" / "model.safetensors").read_bytes() for i in range(3)]
    assert weights[0] == weights[1] != weights[2]  # byte for byte


def test_training_leaves_global_torch_state_alone(data_dir: Path, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    cnn.train("cpu", tmp_path / "c", seed=0, epochs=1, train_limit=32, val_limit=32, progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert not torch.are_deterministic_algorithms_enabled()


# --------------------------------------------------------------------------- predictions and case sets


def test_predictions_csv_and_case_sets(trained: Path, data_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    from cxr_lib.data.cases import CaseSet, load_case_set

    out = tmp_path / "pred" / "test.csv"
    assert main(["baseline", "predict", "--checkpoint", str(trained), "--split", "test", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "auc" in printed and "accuracy" in printed
    frame = read_predictions(out, "test")
    assert list(frame.columns) == list(PREDICTION_COLUMNS) and len(frame) == 624
    assert frame["index"].tolist() == list(range(624))
    threshold = cnn.load_checkpoint(trained).threshold
    assert ((frame["prob_pneumonia"] >= threshold).astype(int) == frame["pred"]).all()
    errors = CaseSet.load(out.parent / "cnn-errors.json")
    fp = CaseSet.load(out.parent / "cnn-false-positives.json")
    fn = CaseSet.load(out.parent / "cnn-false-negatives.json")
    wrong = frame.index[frame["pred"] != frame["label"]].tolist()
    assert list(errors.indices) == wrong and sorted(fp.indices + fn.indices) == wrong
    assert all(frame.loc[i, "label"] == 0 for i in fp.indices)
    assert load_case_set("cnn-errors", predictions=out) == errors
    assert load_case_set(str(out.parent / "cnn-false-negatives.json")) == fn
    counts = cnn_eval.confusion_counts(frame)
    assert counts["fp"] == len(fp) and counts["fn"] == len(fn) and sum(counts.values()) == 624


def test_val_predictions_need_no_case_sets(trained: Path, data_dir: Path, tmp_path: Path) -> None:
    run = cnn_eval.run_prediction(trained, "val", tmp_path / "val.csv")
    assert run.case_sets == {} and not (tmp_path / "cnn-errors.json").exists()
    assert len(read_predictions(tmp_path / "val.csv", "val")) == 524


def test_metrics_and_benchmark_table(trained: Path, data_dir: Path) -> None:
    frame = read_predictions(trained / "predictions_test.csv")
    metrics = cnn_eval.evaluate_frame(frame, n_resamples=200)
    assert set(metrics) == {"auc", "accuracy", "sensitivity", "specificity"}
    assert all(m.low <= m.value <= m.high for m in metrics.values())
    table = cnn_eval.benchmark_table(metrics)
    assert table.loc["ResNet-18 (28)", "auc"] == 0.944 and table.loc["Google AutoML Vision", "accuracy"] == 0.946
    assert table.loc["this MaxViT", "accuracy"] == pytest.approx(metrics["accuracy"].value)
    saved = json.loads((trained / "metrics.json").read_text())
    assert saved["test"]["accuracy"]["value"] == pytest.approx(metrics["accuracy"].value, abs=1e-6)
    assert set(saved["reference_analysis"]["cases"]["also_wrong_here"]) <= set(saved["reference_analysis"]["cases"]["reference_cases"])


# --------------------------------------------------------------------------- bad checkpoints


def test_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        cnn.load_checkpoint(tmp_path / "nowhere")
    err = cli_error(capsys, ["baseline", "predict", "--checkpoint", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p.csv")])
    assert "does not exist" in err


@pytest.mark.parametrize("remove", ["model.safetensors", "checkpoint.json"])
def test_partial_checkpoint(copy_of, remove: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = copy_of()
    (folder / remove).unlink()
    with pytest.raises(CheckpointError, match=f"incomplete \\(no {remove}\\)"):
        cnn.load_checkpoint(folder)
    cli_error(capsys, ["baseline", "predict", "--checkpoint", str(folder), "--out", str(tmp_path / "p.csv")])


def test_damaged_checkpoint_files(copy_of, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = copy_of()
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        cnn.load_checkpoint(folder)
    (folder / "checkpoint.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        cnn.load_checkpoint(folder)
    (folder / "checkpoint.json").write_text(json.dumps({"format": cnn.CHECKPOINT_FORMAT, "preset": "cpu"}))
    with pytest.raises(CheckpointError, match="lacks model_name"):
        cnn.load_checkpoint(folder)
    cli_error(capsys, ["baseline", "predict", "--checkpoint", str(folder), "--out", str(tmp_path / "p.csv")])


def test_checkpoint_from_another_input_size(copy_of, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = copy_of()
    info = json.loads((folder / "checkpoint.json").read_text())
    (folder / "checkpoint.json").write_text(json.dumps(info | {"input_size": 64}))
    with pytest.raises(CheckpointError, match="at 32 px but checkpoint.json says maxvit_pico_rw_256 at 64 px"):
        cnn.load_checkpoint(folder)
    err = cli_error(capsys, ["baseline", "predict", "--checkpoint", str(folder), "--out", str(tmp_path / "p.csv")])
    assert "64 px" in err


def test_checkpoint_from_another_model(copy_of, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = copy_of()
    info = json.loads((folder / "checkpoint.json").read_text())
    wider = info | {"model_kwargs": info["model_kwargs"] | {"embed_dim": [64, 128, 256]}}
    (folder / "checkpoint.json").write_text(json.dumps(wider))
    with pytest.raises(CheckpointError, match="do not fit .*another model or input size"):
        cnn.load_checkpoint(folder)
    odd = info | {"model_kwargs": info["model_kwargs"] | {"embed_dim": [48, 96, 192]}}
    (folder / "checkpoint.json").write_text(json.dumps(odd))
    with pytest.raises(CheckpointError, match="describes a model timm cannot build"):
        cnn.load_checkpoint(folder)
    (folder / "checkpoint.json").write_text(json.dumps(info | {"model_name": "maxvit_nano_rw_256"}))
    with pytest.raises(CheckpointError, match="mixes two checkpoints"):
        cnn.load_checkpoint(folder)
    cli_error(capsys, ["baseline", "predict", "--checkpoint", str(folder), "--out", str(tmp_path / "p.csv")])


def test_weights_without_baseline_metadata(copy_of) -> None:
    from safetensors.torch import load_file, save_file

    folder = copy_of()
    save_file(load_file(folder / "model.safetensors"), folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="not written by `cxr baseline train`"):
        cnn.load_checkpoint(folder)


def test_checkpoint_of_another_preset(trained: Path) -> None:
    with pytest.raises(CheckpointError, match="trained with preset 'cpu', not 'gpu'"):
        cnn.load_checkpoint(trained, preset="gpu")


def test_loading_never_unpickles(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    import torch

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    assert cnn.load_checkpoint(trained).spec.preset == "cpu"


# --------------------------------------------------------------------------- bad CSVs and presets


@pytest.fixture()
def good_csv(trained: Path) -> pd.DataFrame:
    return pd.read_csv(trained / "predictions_test.csv")


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.drop(columns="prob_pneumonia"), "lacks column\\(s\\) prob_pneumonia"),
    (lambda f: f.iloc[:-1], "has 623 rows but the test split has 624"),
    (lambda f: f.assign(label=1 - f["label"]), "disagrees with the test split's labels"),
    (lambda f: f.assign(index=f["index"] + 1), "does not list each test index"),
    (lambda f: f.assign(pred="pneumonia"), "non-numeric"),
    (lambda f: f.assign(prob_pneumonia=f["prob_pneumonia"] + 2), "outside \\[0, 1\\]"),
])
def test_bad_predictions_csv(good_csv: pd.DataFrame, damage, message: str, tmp_path: Path,
                             data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.csv"
    damage(good_csv).to_csv(path, index=False)
    with pytest.raises(PredictionsError, match=message):
        read_predictions(path, "test")
    from cxr_lib.data.cases import load_case_set

    with pytest.raises(PredictionsError):
        load_case_set("cnn-errors", predictions=path)


def test_csv_for_another_split(trained: Path, data_dir: Path) -> None:
    with pytest.raises(PredictionsError, match="524 rows but the test split has 624"):
        read_predictions(trained / "predictions_val.csv", "test")
    assert len(read_predictions(trained / "predictions_val.csv", "val")) == 524
    assert len(read_predictions(trained / "predictions_val.csv", None)) == 524


def test_missing_or_unreadable_csv(tmp_path: Path) -> None:
    with pytest.raises(PredictionsError, match="does not exist"):
        read_predictions(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PredictionsError, match="not a readable CSV"):
        read_predictions(tmp_path / "empty.csv")


def test_cli_bad_inputs(trained: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert "unknown baseline preset 'tiny'" in cli_error(
        capsys, ["baseline", "train", "--preset", "tiny", "--out", str(tmp_path / "t")])
    assert not (tmp_path / "t").exists()
    assert "unknown split" in cli_error(
        capsys, ["baseline", "predict", "--checkpoint", str(trained), "--split", "dev", "--out", str(tmp_path / "p.csv")])
    assert ".csv" in cli_error(
        capsys, ["baseline", "predict", "--checkpoint", str(trained), "--out", str(tmp_path / "p.txt")])
    assert "epochs must be at least 1" in cli_error(
        capsys, ["baseline", "train", "--out", str(tmp_path / "e"), "--epochs", "0"])


# --------------------------------------------------------------------------- the committed run

ARTIFACTS = committed("baseline")


@pytest.mark.skipif(not (ARTIFACTS / "predictions_test.csv").is_file(), reason="no committed baseline run")
def test_committed_baseline_run_is_consistent(data_dir: Path) -> None:
    """The committed cpu-preset run: its tables match the splits, its case sets match its errors."""
    from cxr_lib.data.cases import CaseSet, cases_from_predictions

    info = json.loads((ARTIFACTS / "checkpoint.json").read_text())  # the weights are not committed
    metrics = json.loads((ARTIFACTS / "metrics.json").read_text())
    test = read_predictions(ARTIFACTS / "predictions_test.csv", "test")
    val = read_predictions(ARTIFACTS / "predictions_val.csv", "val")
    assert info["preset"] == "cpu" and metrics["threshold"] == info["threshold"]
    assert ((test["prob_pneumonia"] >= info["threshold"]).astype(int) == test["pred"]).all()
    assert cnn.choose_threshold(val["label"], val["prob_pneumonia"]) == pytest.approx(info["threshold"], abs=1e-6)
    assert metrics["test"]["auc"]["value"] >= 0.95 and metrics["test"]["accuracy"]["value"] >= 0.85
    for kind in ("cnn-errors", "cnn-false-positives", "cnn-false-negatives"):
        assert CaseSet.load(ARTIFACTS / f"{kind}.json") == cases_from_predictions(test, kind)
