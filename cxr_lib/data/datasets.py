"""PneumoniaMNIST splits, the high-resolution reference, and the earlier analysis's reports.

Named case sets of test images are in :mod:`cxr_lib.data.cases`.

Dataset facts (label names, split sizes, MD5 sums, file names) are read from
``medmnist.INFO``; nothing here retypes them. Data is looked for, in order, in an explicit
folder, in ``$CXR_DATA_DIR``, then in the ``medmnist`` default root (downloading there when
allowed: :func:`fetch_missing`, the notebooks' ``download`` parameter, on by default in Colab).
A local file whose MD5 differs from the official one is accepted and reported.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from cxr_lib.errors import DataError, DataNotFoundError, HRUnavailableError, SplitError
from cxr_lib.storage import file_digest

FLAG = "pneumoniamnist"
SPLITS = ("train", "val", "test")
SIZES = (28, 64, 128, 224)
DATA_DIR_ENV = "CXR_DATA_DIR"
HR_SUBSET_FILE = "pneumoniamnist_224_test_subset.npz"
#: Real 112×112 originals of train and val images, paired with their 28×28 images (no test image).
HR_PAIRS_FILE = "pneumoniamnist_112_trainval_subset.npz"
#: The splits that have such pairs: the test split never does.
HR_PAIR_SPLITS = ("train", "val")
#: Side of the paired originals (4× the 28×28 images).
HR_PAIR_SIZE = 112
#: Correlation at 28×28 from which two images count as the same X-ray (the threshold used to match them).
SAME_IMAGE_CORRELATION = 0.97
#: The earlier analysis's own MedGemma reports (one JSON object a line), beside the data.
REFERENCE_REPORTS_FILE = "reference_analysis_reports.jsonl"
REFERENCE_REPORT_FIELDS = ("condition", "test_index", "ground_truth", "reference_parser_label", "text")

#: The test images the reference analysis used: the first ten errors of its MaxViT.
REFERENCE_CASES: tuple[int, ...] = (1, 9, 22, 39, 44, 61, 67, 68, 71, 78)


@lru_cache(maxsize=1)
def _medmnist_info() -> dict[str, Any]:
    """``medmnist.INFO``, read from the package's ``info.py`` without running it: importing
    ``medmnist`` pulls in torch (seconds), and running ``info.py`` creates ``~/.medmnist``."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("medmnist")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the medmnist package is not installed: pip install medmnist")
    path = Path(list(spec.submodule_search_locations)[0]) / "info.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "INFO" for t in node.targets):
            return ast.literal_eval(node.value)
    raise DataError(f"{path} has no INFO table: reinstall medmnist (pip install --force-reinstall medmnist)")


def dataset_info() -> dict[str, Any]:
    """The ``medmnist.INFO`` entry for PneumoniaMNIST (label names, sizes, MD5s, URLs)."""
    return _medmnist_info()[FLAG]


def label_names() -> dict[int, str]:
    """Class index → name, e.g. ``{0: "normal", 1: "pneumonia"}``."""
    return {int(k): v for k, v in dataset_info()["label"].items()}


def official_split_size(split: str) -> int:
    """The number of images in the official split."""
    return int(dataset_info()["n_samples"][split])


def file_name(size: int) -> str:
    """The MedMNIST file name for an image size (``pneumoniamnist.npz`` at 28)."""
    check_size(size)
    return f"{FLAG}.npz" if size == 28 else f"{FLAG}_{size}.npz"


def official_md5(size: int) -> str:
    """The official MD5 of the file for an image size."""
    info = dataset_info()
    return info["MD5"] if size == 28 else info[f"MD5_{size}"]


def check_split(split: str) -> str:
    """Return ``split`` if it names a split, else raise :class:`SplitError`."""
    if split not in SPLITS:
        raise SplitError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return split


def check_size(size: int) -> int:
    """Return ``size`` if MedMNIST publishes it, else raise :class:`SplitError`."""
    if size not in SIZES:
        raise SplitError(
            f"unknown image size {size!r}: PneumoniaMNIST comes at {', '.join(map(str, SIZES))}"
        )
    return size


@dataclass(frozen=True)
class DataSource:
    """Where a split was read from and whether it is the official MedMNIST file."""

    path: Path
    official: bool
    md5: str

    def describe(self) -> str:
        """One line: the file and whether it is the official one."""
        status = "official MedMNIST file" if self.official else "not the official MedMNIST file (MD5 differs)"
        return f"{display_path(self.path)} ({status})"


@dataclass(frozen=True)
class Split:
    """One split of PneumoniaMNIST: images, labels and each image's index in the split."""

    name: str
    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N,), 0 = normal, 1 = pneumonia
    indices: np.ndarray  # int64 (N,), position in the split
    source: DataSource

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def size(self) -> int:
        """Image side length in pixels."""
        return int(self.images.shape[1])

    def class_counts(self) -> dict[str, int]:
        """Images per class name."""
        names = label_names()
        return {names[k]: int((self.labels == k).sum()) for k in sorted(names)}

    def image(self, index: int) -> np.ndarray:
        """The image at a split index (raises :class:`SplitError` when out of range)."""
        return self.images[self.position(index)]

    def label(self, index: int) -> int:
        """The label at a split index."""
        return int(self.labels[self.position(index)])

    def position(self, index: int) -> int:
        """Row of a split index in this object's arrays."""
        index = int(index)
        if not 0 <= index < len(self):
            raise SplitError(
                f"index {index} is out of range for the {self.name} split "
                f"(valid: 0 to {len(self) - 1})"
            )
        return index

    def subset(self, indices: Sequence[int]) -> "Split":
        """The images at the given split indices, in that order."""
        rows = np.array([self.position(i) for i in indices], dtype=np.int64)
        return Split(self.name, self.images[rows], self.labels[rows], self.indices[rows], self.source)


# --------------------------------------------------------------------------- locating files


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for data, in order: the argument, ``$CXR_DATA_DIR``, medmnist's root."""
    folders: list[Path] = []
    if data_dir is not None:
        folders.append(Path(data_dir).expanduser())
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        folders.append(Path(env).expanduser())
    folders.append(default_root())
    return folders


def default_root() -> Path:
    """The ``medmnist`` default download folder (``~/.medmnist``; created only by a download)."""
    return Path.home() / ".medmnist"


def display_path(path: str | os.PathLike) -> str:
    """A data file as a reader should see it: under ``$CXR_DATA_DIR`` or ``~`` when it is there,
    else by its name — never by a path of the machine that read it."""
    path = Path(path).expanduser().resolve()
    bases = [(f"${DATA_DIR_ENV}", os.environ.get(DATA_DIR_ENV)), ("~", str(Path.home()))]
    for shown, base in bases:
        if base:
            try:
                return f"{shown}/{path.relative_to(Path(base).expanduser().resolve()).as_posix()}"
            except ValueError:
                continue
    return path.name


def find_file(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first existing ``name`` in the searched folders, or None."""
    for folder in data_dirs(data_dir):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def check_data_dir(data_dir: str | os.PathLike | None) -> None:
    """Raise :class:`DataNotFoundError` when an explicit data folder does not exist."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise DataNotFoundError(f"data folder {data_dir} does not exist: pass an existing folder")


def locate(size: int = 28, data_dir: str | os.PathLike | None = None, download: bool = False) -> Path:
    """Path of the PneumoniaMNIST file at ``size``; download it when allowed and missing."""
    name = file_name(size)
    check_data_dir(data_dir)
    found = find_file(name, data_dir)
    if found is not None:
        return found
    if download:
        return _download(size)
    searched = ", ".join(str(p) for p in data_dirs(data_dir))
    raise DataNotFoundError(
        f"{name} not found (searched {searched}): set {DATA_DIR_ENV} to a folder holding it, "
        "or allow the download (download=True / --download)"
    )


def running_in_colab() -> bool:
    """Whether this is a Google Colab kernel (Colab imports ``google.colab`` when its kernel starts)."""
    return "google.colab" in sys.modules


def fetch_missing(data_dir: str | os.PathLike | None = None, download: bool | None = None,
                  hr_reference: bool = False) -> list[Path]:
    """Download with ``medmnist`` the data a run needs and cannot find; return the files downloaded.

    Needed: the 28×28 PneumoniaMNIST file and, with ``hr_reference``, a high-resolution reference
    (MedMNIST+'s ``pneumoniamnist_224.npz`` is fetched unless it or :data:`HR_SUBSET_FILE` is found).
    ``download=None`` downloads in Colab only (a fresh runtime has no data). A missing file with the
    download off is a :class:`DataNotFoundError` naming the ``download`` parameter. Files go where
    ``medmnist`` keeps them (:func:`default_root`), which is always searched; no data folder is written.
    """
    check_data_dir(data_dir)
    if download is None:
        download = running_in_colab()
    missing = [28] if find_file(file_name(28), data_dir) is None else []
    if hr_reference and find_file(file_name(224), data_dir) is None and find_file(HR_SUBSET_FILE, data_dir) is None:
        missing.append(224)
    if missing and not download:
        names = " and ".join(file_name(size) for size in missing)
        searched = ", ".join(str(p) for p in data_dirs(data_dir))
        raise DataNotFoundError(
            f"{names} not found (searched {searched}): set the parameter download=True to fetch "
            f"{'them' if len(missing) > 1 else 'it'} with medmnist, or data_dir (or ${DATA_DIR_ENV}) to a folder holding "
            f"{'them' if len(missing) > 1 else 'it'}"
        )
    return [_download(size) for size in missing]


def _download(size: int) -> Path:
    """Download the official file with medmnist into its default root."""
    import medmnist

    root = default_root()
    root.mkdir(parents=True, exist_ok=True)
    try:
        medmnist.PneumoniaMNIST(split="test", size=size, root=str(root), download=True)
    except Exception as exc:  # network errors come in many types
        raise DataNotFoundError(
            f"could not download {file_name(size)} into {root} ({type(exc).__name__}): "
            f"check the network, or set {DATA_DIR_ENV} to a folder holding the file"
        ) from exc
    return root / file_name(size)


@lru_cache(maxsize=8)
def _md5(path: str, mtime: float) -> str:
    return file_digest(path, "md5")


def file_md5(path: Path) -> str:
    """MD5 of a file (cached per path and modification time)."""
    return _md5(str(path), path.stat().st_mtime)


# --------------------------------------------------------------------------- reading files


def read_npz(path: Path, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Read the named arrays from an ``.npz``; every failure becomes a :class:`DataError`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path} has no {', '.join(missing)} (it has {', '.join(archive.files) or 'nothing'}): "
                    "use a MedMNIST-layout .npz file"
                )
            return {k: archive[k] for k in keys}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"{path} is not a readable .npz file ({type(exc).__name__}: {exc}): "
            "download it again or point CXR_DATA_DIR at a good copy"
        ) from exc


def validate_images(images: np.ndarray, path: Path, key: str, size: int | None = None) -> np.ndarray:
    """Check that ``images`` is a uint8 stack of square grayscale images."""
    if images.dtype != np.uint8:
        raise DataError(f"{path}:{key} has dtype {images.dtype}: expected uint8 images")
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise DataError(f"{path}:{key} has shape {images.shape}: expected (N, H, W) grayscale images")
    if size is not None and images.shape[1] != size:
        raise DataError(f"{path}:{key} holds {images.shape[1]}×{images.shape[2]} images: expected {size}×{size}")
    return images


def validate_labels(labels: np.ndarray, n_images: int, path: Path, key: str) -> np.ndarray:
    """Check labels are N values in {0, 1}; return them as int64 of shape (N,)."""
    labels = np.asarray(labels)
    shape = labels.shape
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != n_images:
        raise DataError(f"{path}:{key} has shape {shape}: expected ({n_images},) or ({n_images}, 1)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}:{key} has dtype {labels.dtype}: expected integer labels")
    bad = sorted(set(np.unique(labels).tolist()) - set(label_names()))
    if bad:
        raise DataError(f"{path}:{key} has labels {bad} outside {{0, 1}} (0 = normal, 1 = pneumonia)")
    return labels.astype(np.int64)


def load_split(
    split: str,
    size: int = 28,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
) -> Split:
    """Load one PneumoniaMNIST split as a :class:`Split`."""
    check_split(split)
    path = locate(size, data_dir, download)
    return _load_split_cached(split, size, str(path), path.stat().st_mtime)


@lru_cache(maxsize=16)
def _load_split_cached(split: str, size: int, path_text: str, mtime: float) -> Split:
    path = Path(path_text)
    arrays = read_npz(path, [f"{split}_images", f"{split}_labels"])
    images = validate_images(arrays[f"{split}_images"], path, f"{split}_images", size)
    labels = validate_labels(arrays[f"{split}_labels"], len(images), path, f"{split}_labels")
    md5 = file_md5(path)
    source = DataSource(path=path, official=md5 == official_md5(size), md5=md5)
    images.setflags(write=False)
    return Split(split, images, labels, np.arange(len(labels), dtype=np.int64), source)


def split_report(split: Split) -> str:
    """One line on a split: size, class counts, and whether it matches the official one."""
    counts = " / ".join(f"{n} {name}" for name, n in split.class_counts().items())
    expected = official_split_size(split.name)
    note = "" if len(split) == expected else f"; the official split has {expected}"
    return f"{split.name}: {len(split)} images ({counts}){note}"


# --------------------------------------------------------------------------- HR reference


@dataclass(frozen=True)
class HRReference:
    """Real 224×224 counterparts of 28×28 test images, looked up by test index."""

    images: np.ndarray  # uint8 (M, 224, 224)
    test_index: np.ndarray  # int64 (M,), index in the 28×28 test split
    path: Path
    official: bool
    _rows: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rows.update({int(t): row for row, t in enumerate(self.test_index)})

    def __len__(self) -> int:
        return len(self.test_index)

    def has(self, index: int) -> bool:
        """Whether test index ``index`` has a high-resolution counterpart."""
        return int(index) in self._rows

    def image(self, index: int) -> np.ndarray:
        """The 224×224 image for a test index (raises :class:`HRUnavailableError`)."""
        if not self.has(index):
            raise HRUnavailableError(
                f"no high-resolution reference is available for test index {index} "
                f"({len(self)} of the test images have one; see HRReference.available())"
            )
        return self.images[self._rows[int(index)]]

    def available(self, indices: Iterable[int] | None = None) -> list[int]:
        """The test indices (of ``indices``, or all) that have a reference, in order."""
        if indices is None:
            return sorted(self._rows)
        return [int(i) for i in indices if self.has(i)]


def load_hr_reference(data_dir: str | os.PathLike | None = None) -> HRReference:
    """The official ``pneumoniamnist_224.npz`` test split, else the 555-image test subset."""
    official = find_file(file_name(224), data_dir)
    if official is not None:
        arrays = read_npz(official, ["test_images", "test_labels"])
        images = validate_images(arrays["test_images"], official, "test_images", 224)
        return HRReference(images, np.arange(len(images), dtype=np.int64), official, True)
    subset = find_file(HR_SUBSET_FILE, data_dir)
    if subset is None:
        searched = ", ".join(str(p) for p in data_dirs(data_dir))
        raise DataNotFoundError(
            f"no high-resolution reference ({file_name(224)} or {HR_SUBSET_FILE}) in {searched}: "
            f"set {DATA_DIR_ENV}, or download MedMNIST+ at size=224"
        )
    return _load_hr_subset(str(subset), subset.stat().st_mtime)


@lru_cache(maxsize=2)
def _load_hr_subset(path_text: str, mtime: float) -> HRReference:
    path = Path(path_text)
    arrays = read_npz(path, ["test_images", "test_index"])
    images = validate_images(arrays["test_images"], path, "test_images", 224)
    test_index = np.asarray(arrays["test_index"]).astype(np.int64)
    if test_index.shape != (len(images),):
        raise DataError(f"{path}:test_index has shape {test_index.shape}: expected ({len(images)},)")
    return HRReference(images, test_index, path, False)


# --------------------------------------------------------------------------- train/val pairs at 112


@dataclass(frozen=True)
class HRPairs:
    """28×28 train or val images paired with their real 112×112 originals (never test images)."""

    split: str
    low: np.ndarray  # uint8 (N, 28, 28): the split's own images
    high: np.ndarray  # uint8 (N, 112, 112): the real originals
    labels: np.ndarray  # int64 (N,)
    indices: np.ndarray  # int64 (N,): index in the 28×28 split
    source_names: np.ndarray  # str (N,): the original file in Kermany's chest_xray/train folder
    path: Path

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, rows: Sequence[int]) -> "HRPairs":
        """The pairs at the given rows (positions in these arrays), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return HRPairs(self.split, self.low[rows], self.high[rows], self.labels[rows], self.indices[rows],
                       self.source_names[rows], self.path)


def load_hr_pairs(split: str, data_dir: str | os.PathLike | None = None) -> HRPairs:
    """The train or val images that have a real 112×112 original, with it (:data:`HR_PAIRS_FILE`).

    The test split has none and is refused (:class:`SplitError`): these pairs train and select
    models that are then measured on test images. Each pair's 28×28 image is read from the
    split itself, and its label must agree with the split's (:class:`DataError` otherwise).
    """
    check_split(split)
    if split not in HR_PAIR_SPLITS:
        raise SplitError(f"the {split} split has no training pairs (they exist for {' and '.join(HR_PAIR_SPLITS)} "
                         "only, so that test images never train or select a model): use train or val")
    path = find_file(HR_PAIRS_FILE, data_dir)
    if path is None:
        searched = ", ".join(str(p) for p in data_dirs(data_dir))
        raise DataNotFoundError(f"{HR_PAIRS_FILE} not found (searched {searched}): set {DATA_DIR_ENV} to the folder holding it")
    return _load_hr_pairs(split, str(path), path.stat().st_mtime, str(locate(28, data_dir)))


@lru_cache(maxsize=4)
def _load_hr_pairs(split: str, path_text: str, mtime: float, low_path: str) -> HRPairs:
    path = Path(path_text)
    keys = [f"{split}_images", f"{split}_labels", f"{split}_index", f"{split}_source_name"]
    arrays = read_npz(path, keys)
    high = validate_images(arrays[keys[0]], path, keys[0], HR_PAIR_SIZE)
    labels = validate_labels(arrays[keys[1]], len(high), path, keys[1])
    indices = np.asarray(arrays[keys[2]])
    names = np.asarray(arrays[keys[3]]).astype(str)
    if indices.shape != (len(high),) or not np.issubdtype(indices.dtype, np.integer) or names.shape != (len(high),):
        raise DataError(f"{path}:{keys[2]} or {keys[3]} does not hold one entry per image: restore the file")
    low_split = _load_split_cached(split, 28, low_path, Path(low_path).stat().st_mtime)
    indices = indices.astype(np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(low_split) or len(np.unique(indices)) != len(indices)):
        raise DataError(f"{path}:{keys[2]} does not name distinct {split} images of {display_path(low_split.source.path)}: "
                        "the two files come from different copies of the data")
    if (low_split.labels[indices] != labels).any():
        raise DataError(f"{path}:{keys[1]} disagrees with the {split} labels of {display_path(low_split.source.path)}: "
                        "the two files come from different copies of the data")
    high.setflags(write=False)
    return HRPairs(split, low_split.images[indices], high, labels, indices, names, path)


@dataclass(frozen=True)
class SplitOverlap:
    """How a set of training images relates to the test split: shared source files and near-duplicates."""

    shared_sources: tuple[str, ...]  # original file names also behind a test image (by base name)
    sources_checked: bool  # False when the test reference has no source names (the official MedMNIST+ file)
    max_correlation: float  # highest correlation of any 28×28 training image with any 28×28 test image
    near_duplicates: int  # training images at or above :data:`SAME_IMAGE_CORRELATION` with a test image

    @property
    def clean(self) -> bool:
        """No shared source file and no near-duplicate image."""
        return not self.shared_sources and self.near_duplicates == 0

    def describe(self) -> str:
        """One line for records and logs."""
        sources = (f"{len(self.shared_sources)} source files shared with the test reference" if self.sources_checked
                   else "source files not checked (the test reference names none)")
        return (f"{sources}; highest 28×28 correlation with a test image {self.max_correlation:.3f}, "
                f"{self.near_duplicates} at or above {SAME_IMAGE_CORRELATION}")


def hr_test_source_names(data_dir: str | os.PathLike | None = None) -> np.ndarray | None:
    """The original file names behind the high-resolution test subset (None without that file)."""
    path = find_file(HR_SUBSET_FILE, data_dir)
    if path is None:
        return None
    with np.load(path, allow_pickle=False) as archive:
        return np.asarray(archive["source_name"]).astype(str) if "source_name" in archive.files else None


def overlap_with_test(images: np.ndarray, source_names: Sequence[str] = (),
                      data_dir: str | os.PathLike | None = None) -> SplitOverlap:
    """Whether 28×28 ``images`` (and their ``source_names``) reach into the test split.

    Every image is correlated with every 28×28 test image (Pearson, over pixels); source names are
    compared by base name with those behind the high-resolution test subset, when it names them.
    """
    test = load_split("test", 28, data_dir).images

    def standardised(stack: np.ndarray) -> np.ndarray:
        flat = np.asarray(stack, dtype=np.float64).reshape(len(stack), -1)
        flat = flat - flat.mean(axis=1, keepdims=True)
        return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)

    correlation = standardised(images) @ standardised(test).T if len(images) else np.zeros((0, len(test)))
    best = correlation.max(axis=1) if len(images) else np.zeros(0)
    test_names = hr_test_source_names(data_dir)
    shared: tuple[str, ...] = ()
    if test_names is not None:
        theirs = {Path(n).name for n in test_names}
        shared = tuple(sorted({Path(n).name for n in source_names} & theirs))
    return SplitOverlap(shared, test_names is not None, float(best.max()) if len(best) else float("nan"),
                       int((best >= SAME_IMAGE_CORRELATION).sum()))


def check_no_test_overlap(pairs: Sequence[HRPairs], data_dir: str | os.PathLike | None = None) -> SplitOverlap:
    """:func:`overlap_with_test` for training pairs; :class:`DataError` when any reaches into the test split."""
    if any(p.split not in HR_PAIR_SPLITS for p in pairs):
        raise SplitError(f"training pairs must come from {' and '.join(HR_PAIR_SPLITS)}, not the test split")
    images = np.concatenate([p.low for p in pairs]) if pairs else np.zeros((0, 28, 28), np.uint8)
    names = [n for p in pairs for n in p.source_names]
    overlap = overlap_with_test(images, names, data_dir)
    if not overlap.clean:
        raise DataError(f"the training pairs reach into the test split ({overlap.describe()}): "
                        f"use a copy of {HR_PAIRS_FILE} built from Kermany's train folder only")
    return overlap


# --------------------------------------------------------------------------- the earlier analysis's reports


def load_reference_reports(data_dir: str | os.PathLike | None = None) -> "Any":
    """The earlier analysis's MedGemma reports, one row each (a pandas DataFrame).

    Columns: ``condition`` (``lanczos`` / ``swin2sr``), ``index`` (test index), ``truth`` (1 =
    pneumonia), ``reference_parser_label`` (what that analysis's keyword parser read), ``text``, and
    ``source_file``. The file is looked for like the data: ``data_dir``, ``$CXR_DATA_DIR``, medmnist's root.
    """
    import pandas as pd

    path = find_file(REFERENCE_REPORTS_FILE, data_dir)
    if path is None:
        searched = ", ".join(str(p) for p in data_dirs(data_dir))
        raise DataNotFoundError(
            f"{REFERENCE_REPORTS_FILE} not found (searched {searched}): set {DATA_DIR_ENV} to the folder holding it"
        )
    names = {name: code for code, name in label_names().items()}
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}): restore the file from the data folder") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        missing = [f for f in REFERENCE_REPORT_FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise DataError(f"{path}:{number} is not a report entry (lacks {', '.join(missing)}): restore the file")
        if entry["ground_truth"] not in names or entry["reference_parser_label"] not in names:
            raise DataError(f"{path}:{number} has a label outside {sorted(names)}: restore the file")
        rows.append({
            "condition": str(entry["condition"]), "index": int(entry["test_index"]),
            "truth": names[entry["ground_truth"]], "reference_parser_label": entry["reference_parser_label"],
            "text": str(entry["text"]), "source_file": str(entry.get("source_file", "")),
        })
    if not rows:
        raise DataError(f"{path} holds no reports: restore the file")
    return pd.DataFrame(rows)


def data_summary(data_dir: str | os.PathLike | None = None, download: bool = False) -> list[str]:
    """Lines describing each split, its source, and the high-resolution reference (``download``:
    fetch the missing ones first, :func:`fetch_missing`)."""
    lines: list[str] = []
    sources: dict[Path, DataSource] = {}
    if download:  # the 28×28 file and a high-resolution reference, whichever is missing
        fetch_missing(data_dir, True, hr_reference=True)
    for name in SPLITS:
        split = load_split(name, 28, data_dir, download)
        sources.setdefault(split.source.path, split.source)
        lines.append(split_report(split))
    lines += [f"source: {source.describe()}" for source in sources.values()]
    try:
        hr = load_hr_reference(data_dir)
        kind = "official MedMNIST+ 224" if hr.official else "test subset"
        lines.append(f"high-resolution reference: {len(hr)} test images have one ({kind}, {display_path(hr.path)})")
    except DataNotFoundError as exc:
        lines.append(f"high-resolution reference: none ({exc})")
    return lines
