"""Reading a user's image file (PNG, JPEG, TIFF, BMP, … or DICOM) into a uint8 grayscale array.

Everything a user can point this package at goes through :func:`load_image_file` (a path) or
:func:`to_grayscale_uint8` (an array already in memory). Both return a 2-D ``uint8`` array or raise
:class:`~cxr_lib.errors.ImageInputError` with one line saying what is wrong and what to do:
empty, truncated or non-image files, images too small or too large, and unusual pixel formats
(16-bit, float, RGBA, palette, CMYK) are all handled or refused here, once.

The pixel helpers the upscalers share (:func:`check_image`, :func:`to_pil`, :func:`to_gray`,
:func:`as_channels`) take and give ``uint8`` grayscale (H, W) or RGB (H, W, 3) arrays.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxr_lib.errors import ImageInputError, UpscaleError, first_line

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

#: Smallest accepted side in pixels (PneumoniaMNIST's images are 28×28).
MIN_SIDE = 16
#: Largest accepted image, in pixels (a 6000×6000 image); bigger files are refused before decoding.
MAX_PIXELS = 36_000_000
#: Largest accepted file, in bytes.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: File name endings treated as DICOM even without the ``DICM`` preamble.
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


def load_image_file(path: str | os.PathLike) -> np.ndarray:
    """Read an image or DICOM file as a 2-D ``uint8`` grayscale array.

    Colour is converted to luminance, transparency is composited over black, palette images are
    expanded, and 16-bit, 32-bit and float images are rescaled from their own minimum and maximum
    to 0–255. Multi-frame files give their first frame.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.is_file():
        raise ImageInputError(f"image file {path} does not exist: check the path")
    size = path.stat().st_size
    if size == 0:
        raise ImageInputError(f"{name} is empty (0 bytes): choose a PNG, JPEG or DICOM file with an image in it")
    if size > MAX_FILE_BYTES:
        raise ImageInputError(
            f"{name} is {size / 2**20:.0f} MB: the limit is {MAX_FILE_BYTES // 2**20} MB; downscale or compress it"
        )
    if is_dicom(path):
        return _load_dicom(path)
    return _load_pillow(path)


def is_dicom(path: str | os.PathLike) -> bool:
    """Whether a file is DICOM (the ``DICM`` marker at byte 128, or a DICOM file name ending)."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _load_pillow(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = path.name
    try:
        with Image.open(path) as image:
            check_dimensions(image.size, name)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            return pil_to_grayscale_uint8(image, name)
    except ImageInputError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageInputError(
            f"{name} is not an image file that can be read (expected PNG, JPEG, TIFF, BMP or DICOM)"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{name} is too large to decode safely: downscale it below {MAX_PIXELS:,} pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInputError(
            f"{name} could not be decoded ({type(exc).__name__}: {first_line(exc)}): the file is truncated or corrupt; "
            "export it again"
        ) from exc


def pil_to_grayscale_uint8(image: "object", name: str = "image") -> np.ndarray:
    """A PIL image in any mode as a 2-D ``uint8`` grayscale array."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
        mode = "RGB"
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return to_grayscale_uint8(np.asarray(image), name)
    if mode != "L":
        image = image.convert("L")
    return to_grayscale_uint8(np.asarray(image), name)


def to_grayscale_uint8(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an image array and return it as 2-D ``uint8`` grayscale.

    Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) arrays of any integer, boolean or float
    type. ``uint8`` values are kept; other types are rescaled from the image's own range to 0–255.
    """
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ImageInputError(f"{name} has pixel type {array.dtype}: expected numbers")
    if array.dtype.kind == "f":  # float64 before any arithmetic: no overflow in a narrow type, NaN refused first
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise ImageInputError(f"{name} contains NaN or infinite pixel values: export it again")
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        if array.shape[2] == 4:  # straight alpha over black
            alpha = array[..., 3:4].astype(np.float64) / (255.0 if array.dtype == np.uint8 else max(float(array[..., 3].max()), 1.0))
            array = array[..., :3] * alpha
        if array.shape[2] == 3:
            array = array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114
        else:
            array = array[..., 0]
    if array.ndim != 2:
        raise ImageInputError(f"{name} has shape {array.shape}: expected a 2-D grayscale or an RGB(A) image")
    check_dimensions((array.shape[1], array.shape[0]), name)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ImageInputError(f"{name} contains NaN or infinite pixel values: export it again")
    if array.dtype.kind == "f" and values.min() >= 0.0 and values.max() <= 1.0 and values.max() > 0:
        scaled = values * 255.0  # a float image in [0, 1]
    elif array.dtype == np.bool_:
        scaled = values * 255.0
    else:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def check_dimensions(size: tuple[int, int], name: str = "image") -> None:
    """Refuse images smaller than :data:`MIN_SIDE` or larger than :data:`MAX_PIXELS` (``size`` is W, H)."""
    width, height = int(size[0]), int(size[1])
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(
            f"{name} is {width}×{height} pixels: too small to read; use an image at least {MIN_SIDE}×{MIN_SIDE}"
        )
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            f"{name} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels): the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels; downscale it first"
        )


def _load_dicom(path: Path) -> np.ndarray:
    name = path.name
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError as exc:  # pragma: no cover - pydicom is part of the ui extra
        raise ImageInputError(f"{name} looks like DICOM but pydicom is not installed: pip install pydicom") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about each oddity; one error line is enough
            dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError, AttributeError, KeyError, TypeError) as exc:
        raise ImageInputError(f"{name} is not a readable DICOM file ({type(exc).__name__}): export it again") from exc
    if "PixelData" not in dataset:
        raise ImageInputError(f"{name} is a DICOM file without pixel data (not an image): choose the image series")
    rows, columns = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
    check_dimensions((columns, rows), name)
    try:
        pixels = dataset.pixel_array
    except Exception as exc:  # pydicom raises many types for unsupported or broken pixel data
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise ImageInputError(
            f"{name}: DICOM pixel data could not be decoded (transfer syntax {syntax}, {type(exc).__name__}): "
            "export it uncompressed or install the pydicom decoder plugins (pylibjpeg)"
        ) from exc
    if pixels.ndim == 3 and getattr(dataset, "SamplesPerPixel", 1) == 1:
        pixels = pixels[0]  # multi-frame: the first frame
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        pixels = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset)
    except Exception:  # a missing or odd LUT: keep the stored values
        pass
    image = to_grayscale_uint8(np.asarray(pixels), name)
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        image = 255 - image  # MONOCHROME1 stores white as the lowest value
    return image


# --------------------------------------------------------------------------- pixels in memory


def check_image(image: Any) -> np.ndarray:
    """Return ``image`` as a ``uint8`` (H, W) or (H, W, 3) array, else raise :class:`UpscaleError`."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or min(array.shape[:2], default=0) < 1:
        raise UpscaleError(
            f"image has shape {array.shape}: expected a 2-D grayscale (H, W) or RGB (H, W, 3) array"
        )
    if array.dtype != np.uint8:
        raise UpscaleError(f"image has dtype {array.dtype}: expected uint8 (0-255); convert it with .astype(np.uint8)")
    return array


def to_pil(image: np.ndarray) -> "PILImage.Image":
    """A ``uint8`` grayscale (mode ``L``) or RGB array as a PIL image."""
    from PIL import Image

    array = check_image(image)
    return Image.fromarray(np.ascontiguousarray(array))  # mode L for (H, W), RGB for (H, W, 3)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale of a ``uint8`` image (ITU-R 601 luma for RGB, as PIL's ``convert("L")``)."""
    array = check_image(image)
    return array if array.ndim == 2 else np.asarray(to_pil(array).convert("L"))


def as_channels(image: np.ndarray, rgb: bool) -> np.ndarray:
    """``image`` with three equal channels (``rgb=True``) or as grayscale (``rgb=False``)."""
    array = check_image(image)
    if not rgb:
        return to_gray(array)
    return array if array.ndim == 3 else np.repeat(array[:, :, None], 3, axis=2)

