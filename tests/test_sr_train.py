"""The chest X-ray Swin2SR: train/val pairs only, a few training steps, determinism, the saved
folder loaded back as any Swin2SR, the ``swin2sr-cxr`` upscaler, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cxr_lib.cli import main
from cxr_lib.data import datasets as data
from cxr_lib.data.artifacts import committed
from cxr_lib.errors import DataError, ModelLoadError, ParameterError, SplitError
from cxr_lib.training import super_resolver

SLICE = {"epochs": 1, "train_limit": 24, "val_limit": 12, "progress": False}


def cli_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run `cxr` expecting a one-line error and exit status 2; return the line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cxr: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> super_resolver.SRTrainingRun:
    """One epoch on a slice of the train pairs, selected on a slice of the val pairs."""
    return super_resolver.train_super_resolver("cpu", tmp_path_factory.mktemp("sr") / "model", seed=0, **SLICE)


# --------------------------------------------------------------------------- no test image


def test_pairs_come_from_train_and_val_only(data_dir: Path) -> None:
    with pytest.raises(SplitError, match="test split has no training pairs"):
        data.load_hr_pairs("test")
    test_names = {Path(n).name for n in data.hr_test_source_names()}
    for split in data.HR_PAIR_SPLITS:
        pairs = data.load_hr_pairs(split)
        low_split = data.load_split(split)
        assert pairs.high.shape[1:] == (112, 112) and pairs.low.shape[1:] == (28, 28)
        # each pair's 28×28 image is that split's image at its index, with its label
        assert (pairs.low == low_split.images[pairs.indices]).all()
        assert (pairs.labels == low_split.labels[pairs.indices]).all()
        # and its original is the 28×28 image's: area-reduced back to 28×28 it correlates ≥ 0.96
        reduced = pairs.high[:40].reshape(-1, 28, 4, 28, 4).mean(axis=(2, 4))
        corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(reduced, pairs.low[:40])]
        assert min(corr) > 0.96
        # no original behind a pair is behind a test image
        assert not {Path(n).name for n in pairs.source_names} & test_names


def test_overlap_check_finds_test_images_and_passes_the_pairs(data_dir: Path) -> None:
    pairs = [data.load_hr_pairs("train"), data.load_hr_pairs("val")]
    overlap = data.check_no_test_overlap(pairs)
    assert overlap.clean and overlap.sources_checked and overlap.max_correlation < data.SAME_IMAGE_CORRELATION
    # the same check on pairs that smuggle in test images (or their source names) refuses them
    test = data.load_split("test")
    leaked = pairs[0].subset(range(5))
    leaked = data.HRPairs("train", test.images[:5], leaked.high, leaked.labels, leaked.indices, leaked.source_names, leaked.path)
    with pytest.raises(DataError, match="reach into the test split"):
        data.check_no_test_overlap([leaked])
    renamed = data.HRPairs("train", pairs[0].low[:2], pairs[0].high[:2], pairs[0].labels[:2], pairs[0].indices[:2],
                           np.array(["NORMAL/" + data.hr_test_source_names()[0], "x.jpeg"]), pairs[0].path)
    assert data.overlap_with_test(renamed.low, renamed.source_names).shared_sources == (data.hr_test_source_names()[0],)


def test_training_record_names_only_train_and_val_pairs(trained: super_resolver.SRTrainingRun) -> None:
    record = trained.record
    used = data.load_hr_pairs("train")
    assert record["data"]["train_pairs"] == 24 and record["data"]["val_pairs"] == 12
    assert record["data"]["test_overlap"]["near_duplicates"] == 0 and record["data"]["test_overlap"]["shared_sources"] == 0
    assert record["data"]["file"] == data.HR_PAIRS_FILE  # by name, never a local path
    assert len(used) > 24


def test_missing_pairs_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                        data_dir: Path) -> None:
    import shutil

    shutil.copy(data_dir / "pneumoniamnist.npz", tmp_path / "pneumoniamnist.npz")
    monkeypatch.setenv("CXR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "default_root", lambda: tmp_path / "nothing")
    with pytest.raises(data.DataNotFoundError, match=data.HR_PAIRS_FILE):
        data.load_hr_pairs("train")
    assert data.HR_PAIRS_FILE in cli_error(capsys, ["sr", "train", "--out", str(tmp_path / "m"), "--epochs", "1"])


# --------------------------------------------------------------------------- training


def test_inputs_are_fed_as_the_upscaler_feeds_swin2sr(trained: super_resolver.SRTrainingRun) -> None:
    low = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    pixels = super_resolver.model_inputs(low, super_resolver.image_processor())
    assert tuple(pixels.shape) == (3, 3, 32, 32)  # three equal channels, 28 padded to 32 with a mirrored strip
    assert (pixels[:, 0] == pixels[:, 1]).all() and np.allclose(pixels[0, 0, :28, :28].numpy(), low[0] / 255.0)
    assert np.allclose(pixels[0, 0, 28:, :28].numpy(), low[0, ::-1][:4] / 255.0)
    # the saved processor is the generic Swin2SR's
    from cxr_lib.models.stand_ins import SWIN2SR_PREPROCESSOR

    assert json.loads((trained.path / "preprocessor_config.json").read_text()) == SWIN2SR_PREPROCESSOR


def test_dihedral_keeps_each_pair_aligned() -> None:
    low = np.random.default_rng(1).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    high = np.stack([np.kron(image, np.ones((4, 4), np.uint8)) for image in low])
    a, b = super_resolver.dihedral(low, high, np.random.default_rng(2))
    assert all((np.kron(x, np.ones((4, 4), np.uint8)) == y).all() for x, y in zip(a, b))
    assert not (a == low).all()  # something was turned or flipped


def test_a_few_steps_write_a_swin2sr_folder_that_loads_back(trained: super_resolver.SRTrainingRun) -> None:
    from cxr_lib.models.upscale import load_super_resolver

    folder = trained.path
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "preprocessor_config.json", super_resolver.RECORD_FILE}
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))  # safetensors only
    record = super_resolver.read_record(folder)
    assert record["training"]["steps"] == 2 and len(record["history"]) == 1 and record["selection"]["best_epoch"] == 1
    assert record["architecture"]["upscale"] == 4 and record["versions"]["transformers"]
    import hashlib

    assert record["weights_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    loaded = load_super_resolver(str(folder), device="cpu", method="swin2sr-cxr")
    assert loaded.method == "swin2sr-cxr" and not loaded.is_stand_in and loaded.scale == 4
    images = list(data.load_split("test").images[:3])
    assert all((a == b).all() for a, b in zip(loaded.super_resolve(images), trained.resolver.super_resolve(images)))


def test_same_seed_same_weights(data_dir: Path, trained: super_resolver.SRTrainingRun, tmp_path: Path) -> None:
    again = super_resolver.train_super_resolver("cpu", tmp_path / "again", seed=0, **SLICE)
    other = super_resolver.train_super_resolver("cpu", tmp_path / "other", seed=1, **SLICE)
    weights = lambda run: (run.path / "model.safetensors").read_bytes()  # noqa: E731
    assert weights(again) == weights(trained)
    assert weights(other) != weights(trained)


# --------------------------------------------------------------------------- the upscaler


def test_swin2sr_cxr_is_registered_and_makes_exactly_112(data_dir: Path) -> None:
    from cxr_lib.models.upscale import (
        CONDITIONS,
        LEARNED,
        SWIN2SR_CXR_ID,
        UPSCALERS,
        default_cxr_super_resolver,
        upscale_batch,
    )

    assert UPSCALERS["swin2sr-cxr"].kind == "swin2sr" and "swin2sr-cxr" in LEARNED and "swin2sr-cxr" in CONDITIONS
    model = default_cxr_super_resolver()  # the committed weights
    assert model.model_id == SWIN2SR_CXR_ID and model.revision.startswith("sha256:") and not model.is_stand_in
    low = data.load_split("test").images[:2]
    raw = model.super_resolve(list(low))
    assert all(image.shape == (112, 112) and image.dtype == np.uint8 for image in raw)
    assert all(image.shape == (112, 112) for image in upscale_batch(list(low), "swin2sr-cxr", 112))
    record = super_resolver.read_record(committed("swin2sr_cxr/training.json").parent)
    assert record["data"]["test_overlap"]["near_duplicates"] == 0 and record["preset"] == "cpu"


def test_generic_swin2sr_never_stands_in_for_the_cxr_one(data_dir: Path) -> None:
    import tempfile

    from cxr_lib.models.stand_ins import build_swin2sr_stand_in
    from cxr_lib.models.upscale import learned_model, load_super_resolver

    with tempfile.TemporaryDirectory() as folder:
        stand_in = load_super_resolver(str(build_swin2sr_stand_in(folder)), device="cpu")
        assert learned_model("swin2sr", stand_in) is stand_in
        chosen = learned_model("swin2sr-cxr", stand_in)
        assert chosen is not stand_in and chosen.method == "swin2sr-cxr"


# --------------------------------------------------------------------------- errors


def test_bad_settings_are_one_line(capsys: pytest.CaptureFixture, tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(ParameterError, match="unknown super-resolution preset"):
        super_resolver.get_preset("gpu")
    assert "unknown super-resolution preset 'huge'" in cli_error(capsys, ["sr", "train", "--preset", "huge", "--out", str(tmp_path)])
    assert "epochs must be at least 1" in cli_error(capsys, ["sr", "train", "--epochs", "0", "--out", str(tmp_path)])
    with pytest.raises(ModelLoadError, match="does not exist"):
        super_resolver.read_record(tmp_path)
    err = cli_error(capsys, ["upscale", "--index", "22", "--method", "swin2sr-cxr", "--model", str(tmp_path / "none"),
                             "--out", str(tmp_path / "x.png")])
    assert "does not exist" in err
