"""Upscalers: output size and dtype per method, Swin2SR's crop and batching, and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxr_lib.analysis.conditions import condition_images
from cxr_lib.cli import main
from cxr_lib.data.images import to_pil
from cxr_lib.errors import HRUnavailableError, ModelLoadError, UpscaleError
from cxr_lib.models.upscale import (
    CONDITIONS,
    DEFAULT_FINAL_RESIZE,
    FINAL_RESIZES,
    INTERPOLATIONS,
    LEARNED,
    METHODS,
    UPSCALERS,
    UpscalerSpec,
    described,
    describe_conditions,
    load_super_resolver,
    upscale,
    upscale_batch,
)

NO_REFERENCE = 3  # a test index without a high-resolution counterpart in ../shared/data


@pytest.fixture(scope="module")
def sr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cxr_lib.models.stand_ins import build_swin2sr_stand_in

    return build_swin2sr_stand_in(tmp_path_factory.mktemp("swin2sr"))


@pytest.fixture(scope="module")
def sr(sr_dir: Path):
    return load_super_resolver(str(sr_dir), device="cpu")


def random_image(side: int = 28, seed: int = 0, rgb: bool = False) -> np.ndarray:
    shape = (side, side, 3) if rgb else (side, side)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_every_name_is_read_from_the_registry() -> None:
    assert METHODS == tuple(UPSCALERS) and all(spec.name == name for name, spec in UPSCALERS.items())
    assert CONDITIONS == METHODS + ("hr",) and "hr" not in UPSCALERS
    # each upscaler either needs a model or not, and the two views split the registry between them
    assert set(INTERPOLATIONS) == {name for name, spec in UPSCALERS.items() if not spec.needs_model}
    assert set(LEARNED) == set(METHODS) - set(INTERPOLATIONS)
    # a final resize is an upscaler without a model that says it may be one
    assert DEFAULT_FINAL_RESIZE in FINAL_RESIZES and set(FINAL_RESIZES) <= set(INTERPOLATIONS)
    assert set(FINAL_RESIZES) == {name for name, spec in UPSCALERS.items() if spec.final_resize}


@pytest.mark.parametrize("method", METHODS)
def test_each_entry_says_how_its_pixels_are_made_and_what_the_table_says(method: str) -> None:
    spec = UPSCALERS[method]
    assert (spec.resample is None) is spec.needs_model and (spec.load is None) is not spec.needs_model
    (row,) = describe_conditions([method])  # nothing is loaded
    assert row["condition"] == method and row["shown as"] == spec.label
    assert row["made by"].strip() and row["weights"].strip()
    assert ("interpolation" in row["weights"]) is not spec.needs_model


def test_an_entry_needs_exactly_one_way_to_make_pixels() -> None:
    table = described("nothing", "—")
    with pytest.raises(UpscaleError, match="either resample .* or load .*not neither"):
        UpscalerSpec("none", "none", "interpolation", table)
    with pytest.raises(UpscaleError, match="not both"):
        UpscalerSpec("both", "both", "interpolation", table, resample=lambda image, size: image, load=lambda model: None)
    with pytest.raises(UpscaleError, match="cannot be a final resize"):
        UpscalerSpec("model", "model", "x", table, load=lambda model: None, final_resize=True)


def test_only_final_resize_filters_may_serve_as_one() -> None:
    refused = next(name for name in METHODS if name not in FINAL_RESIZES)
    with pytest.raises(UpscaleError, match=f"{refused!r} is not a final-resize filter: expected one of {', '.join(FINAL_RESIZES)}"):
        upscale(random_image(), "lanczos", 56, final_resize=refused)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [224, 112, 28])
def test_each_method_gives_size_and_dtype(method: str, size: int, sr) -> None:
    image = random_image()
    gray = upscale(image, method, size, sr_model=sr)
    rgb = upscale(image, method, size, sr_model=sr, rgb=True)
    assert gray.shape == (size, size) and gray.dtype == np.uint8
    assert rgb.shape == (size, size, 3) and rgb.dtype == np.uint8
    # RGB output of a grayscale input is the grayscale result in three equal channels.
    assert all((rgb[:, :, c] == gray).all() for c in range(3))


@pytest.mark.parametrize("method", INTERPOLATIONS)
def test_rgb_input_stays_rgb(method: str) -> None:
    out = upscale(random_image(rgb=True), method, 56, rgb=True)
    assert out.shape == (56, 56, 3)
    assert not (out[:, :, 0] == out[:, :, 1]).all()


def test_nearest_repeats_each_pixel_in_blocks() -> None:
    image = random_image()
    assert (upscale(image, "nearest", 224) == np.kron(image, np.ones((8, 8), np.uint8))).all()


def test_interpolations_differ_and_same_size_is_identity() -> None:
    image = random_image()
    outputs = {m: upscale(image, m, 112) for m in INTERPOLATIONS}
    assert len({o.tobytes() for o in outputs.values()}) == len(INTERPOLATIONS)
    assert all((upscale(image, m, 28) == image).all() for m in INTERPOLATIONS)


def test_to_pil_modes() -> None:
    assert to_pil(random_image()).mode == "L"
    assert to_pil(random_image(rgb=True)).mode == "RGB"


# --------------------------------------------------------------------------- Swin2SR


def test_stand_in_loads_through_from_pretrained(sr, sr_dir: Path) -> None:
    assert sr.is_stand_in and sr.model_id == str(sr_dir) and sr.revision == "local"
    assert sr.scale == 4 and sr.model.config.upsampler == "pixelshuffle"
    assert (sr_dir / "model.safetensors").is_file() and (sr_dir / "preprocessor_config.json").is_file()
    assert "STAND-IN" in sr.label


def test_processor_pads_and_super_resolve_crops(sr) -> None:
    import torch

    image = random_image()
    pixels = sr.processor(images=[np.repeat(image[:, :, None], 3, 2)], return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape[-2:]) == (32, 32)  # 28 padded to the next multiple of 8
    with torch.inference_mode():
        raw = sr.model(pixel_values=pixels).reconstruction
    assert tuple(raw.shape[-2:]) == (128, 128)  # what you get without the crop
    out = sr.super_resolve([image])[0]
    assert out.shape == (112, 112) and out.dtype == np.uint8
    expected = (raw[0, :, :112, :112].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert (out == np.asarray(to_pil(expected).convert("L"))).all()


@pytest.mark.parametrize("shape", [(28, 28), (20, 20), (64, 64), (9, 13), (16, 24, 3)])
def test_super_resolve_gives_exactly_four_times(sr, shape) -> None:
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = sr.super_resolve([image])[0]
    assert out.shape == (shape[0] * 4, shape[1] * 4) + shape[2:]


def test_batched_equals_one_by_one(sr, test_split) -> None:
    images = [test_split.image(i) for i in range(11)] + [random_image(20)]
    batched = sr.super_resolve(images, batch_size=4)
    single = [sr.super_resolve([image], batch_size=1)[0] for image in images]
    assert all((b == s).all() for b, s in zip(batched, single))
    via_batch = upscale_batch(images[:5], "swin2sr", 224, sr_model=sr, batch_size=3)
    assert all((a == upscale(im, "swin2sr", 224, sr_model=sr)).all() for a, im in zip(via_batch, images))


# --------------------------------------------------------------------------- conditions


def test_condition_hr_is_the_real_image(test_split, hr) -> None:
    real = condition_images(test_split, [22, 1], "hr", hr=hr)
    assert (real[0] == hr.image(22)).all() and (real[1] == hr.image(1)).all()
    small = condition_images(test_split, [22], "hr", 112, hr=hr, rgb=True)[0]
    assert small.shape == (112, 112, 3)


def test_condition_upscalers_use_the_split_image(test_split, sr) -> None:
    out = condition_images(test_split, [22, 9], "bicubic", 224)
    assert (out[0] == upscale(test_split.image(22), "bicubic")).all()
    assert condition_images(test_split, [9], "swin2sr", sr_model=sr)[0].shape == (224, 224)


# --------------------------------------------------------------------------- bad input, library


def test_unknown_method() -> None:
    with pytest.raises(UpscaleError, match="unknown upscaling method 'cubic'"):
        upscale(random_image(), "cubic")


@pytest.mark.parametrize(
    "image",
    [np.zeros((28, 28, 4), np.uint8), np.zeros(28, np.uint8), np.zeros((2, 28, 28, 3), np.uint8), np.zeros((0, 0), np.uint8)],
    ids=["rgba", "1-d", "4-d", "empty"],
)
def test_not_grayscale_or_rgb(image: np.ndarray) -> None:
    with pytest.raises(UpscaleError, match="expected a 2-D grayscale"):
        upscale(image, "bicubic")


def test_not_uint8() -> None:
    with pytest.raises(UpscaleError, match="dtype float64"):
        upscale(np.zeros((28, 28)), "bicubic")


def test_size_smaller_than_input() -> None:
    with pytest.raises(UpscaleError, match="target size 16 is smaller than the 28×28 input"):
        upscale(random_image(), "lanczos", 16)


def test_missing_model_path(tmp_path: Path) -> None:
    with pytest.raises(UpscaleError, match="does not exist"):
        load_super_resolver(str(tmp_path / "nowhere"))


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(UpscaleError, match="has no config.json"):
        load_super_resolver(str(tmp_path))


def test_not_a_swin2sr(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(UpscaleError, match="is a 'vit' model, not a Swin2SR"):
        load_super_resolver(str(tmp_path))


def test_unreachable_hub_id(monkeypatch) -> None:
    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    from cxr_lib.models import hub

    monkeypatch.setattr(hub, "require_cached_or_reachable", lambda *a, **k: None)  # the hub answers, then fails
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", offline)
    with pytest.raises(ModelLoadError, match="could not load the configuration of 'nobody-here/no-such-swin2sr'"):
        load_super_resolver("nobody-here/no-such-swin2sr")


def test_hr_without_reference(test_split, hr) -> None:
    assert not hr.has(NO_REFERENCE)
    with pytest.raises(HRUnavailableError, match=f"test index {NO_REFERENCE}"):
        condition_images(test_split, [NO_REFERENCE], "hr", hr=hr)


# --------------------------------------------------------------------------- the cxr command


def run_cxr(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_upscale_writes_png(tmp_path: Path, capsys, data_dir) -> None:
    from PIL import Image

    code, out, _ = run_cxr(capsys, "upscale", "--index", "22", "--method", "bicubic", "--size", "112",
                           "--out", str(tmp_path / "a.png"))
    assert code == 0 and "test index 22, bicubic, 112×112" in out
    with Image.open(tmp_path / "a.png") as image:
        assert image.size == (112, 112) and image.mode == "L"


def test_cli_upscale_stand_in_is_labelled(tmp_path: Path, capsys, sr_dir: Path, data_dir) -> None:
    from PIL import Image

    from cxr_lib.models.provenance import STAND_IN_LABEL

    code, out, _ = run_cxr(capsys, "upscale", "--index", "22", "--method", "swin2sr", "--model", str(sr_dir),
                           "--out", str(tmp_path / "sr.png"))
    assert code == 0 and STAND_IN_LABEL in out
    with Image.open(tmp_path / "sr.png") as image:
        assert image.size == (224, 224) and image.text["cxr:stand_in"] == STAND_IN_LABEL


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "cubic"], "unknown upscaling method 'cubic'"),
        (["--method", "swin2sr", "--model", "/no/such/folder"], "model folder /no/such/folder does not exist"),
        (["--method", "swin2sr", "--model", "NOT_SWIN"], "not a Swin2SR"),
        (["--method", "bicubic", "--size", "20"], "target size 20 is smaller than the 28×28 input"),
        (["--method", "hr", "--index", str(NO_REFERENCE)], f"test index {NO_REFERENCE}"),
        (["--method", "bicubic", "--out", "OUT.xyz"], "cannot tell an image format"),
    ],
    ids=["unknown-method", "missing-model", "not-swin2sr", "size-too-small", "hr-missing", "bad-suffix"],
)
def test_cli_upscale_bad_input(extra, message, tmp_path: Path, capsys, data_dir) -> None:
    not_swin = tmp_path / "vit"
    not_swin.mkdir()
    (not_swin / "config.json").write_text(json.dumps({"model_type": "vit"}))
    extra = [str(not_swin) if a == "NOT_SWIN" else str(tmp_path / a) if a.startswith("OUT") else a for a in extra]
    argv = ["upscale", "--index", "22", "--out", str(tmp_path / "x.png")] + extra
    code, out, err = run_cxr(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cxr: error: ") and message in err, err
    assert "Traceback" not in err


def test_cxr_console_bad_image_size_no_traceback(tmp_path: Path, data_dir) -> None:
    """Through a real process: one line on stderr, exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "cxr_lib", "upscale", "--index", "1", "--method", "lanczos", "--size", "8",
         "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "smaller than the 28×28 input" in done.stderr
