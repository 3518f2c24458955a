"""Image files users might upload, good and bad, written on demand (shared by test_images and test_ui)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

RNG = np.random.default_rng(0)


def write_dicom(path: Path, pixels: np.ndarray | None = None, photometric: str = "MONOCHROME2") -> Path:
    """A minimal uncompressed 12-bit-in-16 DICOM file (what a CR/DX export looks like)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    if pixels is None:
        pixels = (np.linspace(0, 4095, 64 * 48).reshape(64, 48)).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _save(array: np.ndarray, mode: str | None = None, fmt: str = "png") -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
        image.save(path, format=fmt)
        return path
    return write


def _palette(path: Path) -> Path:
    Image.fromarray(RNG.integers(0, 255, (40, 40, 3), dtype=np.uint8)).convert("P").save(path)
    return path


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return write


def _truncated(path: Path) -> Path:
    Image.fromarray(RNG.integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


#: name → (file name, writer): files that load and give a uint8 grayscale image.
GOOD = {
    "8-bit": ("gray.png", _save(RNG.integers(0, 255, (28, 28), dtype=np.uint8))),
    "16-bit": ("sixteen.png", _save((np.arange(64 * 64).reshape(64, 64) * 15).astype(np.uint16))),
    "RGBA": ("rgba.png", _save(RNG.integers(0, 255, (40, 40, 4), dtype=np.uint8), "RGBA")),
    "palette": ("palette.png", _palette),
    "JPEG": ("photo.jpg", _save(RNG.integers(0, 255, (300, 260, 3), dtype=np.uint8), fmt="jpeg")),
    "DICOM": ("chest.dcm", write_dicom),
}

#: name → (file name, writer, a phrase the one-line message must contain): files that are refused.
BAD = {
    "empty": ("empty.png", _bytes(b""), "empty"),
    "non-image bytes": ("notes.png", _bytes(b"this is not an image\n" * 10), "not an image"),
    "truncated": ("cut.png", _truncated, "truncated or corrupt"),
    "1x1": ("dot.png", _save(np.zeros((1, 1), np.uint8)), "too small"),
    "huge": ("huge.png", _save(np.zeros((7000, 7000), np.uint8)), "megapixels"),
    "broken DICOM": ("broken.dcm", _bytes(b"\0" * 128 + b"DICM" + b"\x02\x00garbage"), "DICOM"),
}
