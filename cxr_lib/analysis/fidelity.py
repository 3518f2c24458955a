"""Image fidelity of each upscaler against the real high-resolution image.

Every 28×28 test image with a high-resolution counterpart is upscaled by each method and
compared with the real image at 224×224 and at 112×112 (the HR image brought down with
Lanczos; at 112 a learned model's ×4 output — Swin2SR's or Real-ESRGAN's — is compared as it is,
without a final resize). PSNR and SSIM come from scikit-image (``data_range=255``). The headline SSIM
is Wang et al.'s (2004): an 11×11 Gaussian window with σ = 1.5 and population covariances
(``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``), the form published SSIM values
use; scikit-image's default, a uniform 7×7 window with sample covariances, is kept beside it as
``ssim_uniform7``. Higher is closer to the truth; a method that invents texture scores lower and shows
it in its error map. :func:`paired_differences` compares each method with Lanczos image by image,
and :func:`load_committed` reads a committed per-image table back, checked against the data, so
that a slow model need not be rerun.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.evaluate import Estimate
from cxr_lib.analysis.verdict import direction
from cxr_lib.data.artifacts import locate
from cxr_lib.data.datasets import load_hr_reference, load_split
from cxr_lib.errors import DataError, ParameterError, UpscaleError
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.upscale import (
    DEFAULT_FINAL_RESIZE,
    DEFAULT_SWIN2SR,
    HR_SIZE,
    LEARNED,
    METHODS,
    check_method,
    display_name,
    learned_model,
    load_super_resolver,
    method_label,
    resize,
    upscale_batch,
)
from cxr_lib.progress import progress_bar
from cxr_lib.storage import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.analysis.evaluate import Estimate
    from cxr_lib.data.datasets import HRReference, Split
    from cxr_lib.models.upscale import SuperResolver

#: Image sides at which fidelity is measured.
FIDELITY_SIZES = (224, 112)
#: Columns of :func:`fidelity_table`.
FIDELITY_COLUMNS = ("index", "label", "method", "size", "psnr", "ssim", "ssim_uniform7", "model", "revision", "stand_in",
                    "ms_per_image")
#: How the SSIM columns are computed, for pages and tables.
SSIM_WINDOWS = {"ssim": "Gaussian window, σ = 1.5 (Wang et al. 2004)", "ssim_uniform7": "uniform 7×7 window (scikit-image's default)"}
#: The method every other one is compared with, image by image.
PAIRED_BASELINE = "lanczos"


def psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of a ``uint8`` image against a reference."""
    from skimage.metrics import peak_signal_noise_ratio

    with np.errstate(divide="ignore"):  # identical images: infinite PSNR, no warning
        return float(peak_signal_noise_ratio(reference, estimate, data_range=255))


def ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity of grayscale images as Wang et al. (2004) define it: a Gaussian window
    (σ = 1.5, 11×11) and population covariances, ``data_range=255`` (scikit-image)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(reference, estimate, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def ssim_uniform7(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity with scikit-image's default window (uniform 7×7, sample covariances), ``data_range=255``."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(reference, estimate, data_range=255))


#: Images scored together by :func:`image_scores`: four 224×224 float64 images are 1.6 MB per work array,
#: which stays in the processor's cache (measured: a third faster than stacks of 32).
SCORE_CHUNK = 4
#: The two SSIM windows: scikit-image's Gaussian (σ 1.5, truncated at 3.5 σ: 11×11) with population
#: covariances, and its uniform 7×7 with sample covariances; each with the half-width its mean leaves out.
_WINDOWS = {"ssim": (5, 1.0), "ssim_uniform7": (3, 49 / 48)}


def image_scores(estimates: Sequence[np.ndarray] | dict[str, Sequence[np.ndarray]],
                 references: Sequence[np.ndarray]) -> dict[str, np.ndarray] | dict[str, dict[str, np.ndarray]]:
    """PSNR, SSIM and SSIM with the uniform 7×7 window of many same-sized grayscale ``uint8`` images at once;
    ``estimates`` may map several methods to their images (one per reference each): then one such dict per method.

    The same values as :func:`psnr`, :func:`ssim` and :func:`ssim_uniform7` image by image (scikit-image's
    formulas in float64: the same filters, the window's half-width cropped off before the mean, so the
    border mode never reaches the mean), computed on stacks of :data:`SCORE_CHUNK` images shared between
    two threads (SciPy's filters and NumPy's arithmetic release the GIL), the references' windowed moments
    once per stack for every method.
    """
    from concurrent.futures import ThreadPoolExecutor

    methods = estimates if isinstance(estimates, dict) else {"": estimates}
    for images in methods.values():
        if len(images) != len(references):
            raise UpscaleError(f"{len(images)} images against {len(references)} references: give one reference per image")
    starts = range(0, len(references), SCORE_CHUNK)
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        parts = list(pool.map(lambda i: _chunk_scores({m: images[i:i + SCORE_CHUNK] for m, images in methods.items()},
                                                      references[i:i + SCORE_CHUNK]), starts))
    names = ("psnr", *_WINDOWS)
    scores = {m: {name: np.concatenate([part[m][name] for part in parts]) if parts else np.empty(0) for name in names}
              for m in methods}
    return scores if isinstance(estimates, dict) else scores[""]


def _chunk_scores(methods: dict[str, Sequence[np.ndarray]], references: Sequence[np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """:func:`image_scores` of one stack of images for each method."""
    from scipy import ndimage

    filters = {"ssim": partial(ndimage.gaussian_filter, sigma=(0, 1.5, 1.5), truncate=3.5, mode="reflect"),
               "ssim_uniform7": partial(ndimage.uniform_filter, size=(1, 7, 7))}
    x = _stack(references)
    reference_moments = {name: (window(x), window(x * x)) for name, window in filters.items()}
    scores = {}
    for method, images in methods.items():
        y = _stack(images)
        if x.shape != y.shape:
            raise UpscaleError(f"cannot compare {y.shape[1:]} images with {x.shape[1:]} references: resize one first")
        with np.errstate(divide="ignore"):  # identical images: infinite PSNR, no warning
            scores[method] = {"psnr": 10 * np.log10(255.0 ** 2 / np.mean((x - y) ** 2, axis=(1, 2)))}
        for name, window in filters.items():
            ux, uxx = reference_moments[name]
            half_width, covariance_norm = _WINDOWS[name]
            scores[method][name] = _mean_similarity((ux, window(y), uxx, window(y * y), window(x * y)), half_width, covariance_norm)
    return scores


def _stack(images: Sequence[np.ndarray]) -> np.ndarray:
    """Grayscale ``uint8`` images as one float64 array (n, height, width)."""
    arrays = [np.asarray(image) for image in images]
    if any(a.ndim != 2 for a in arrays):
        raise UpscaleError("fidelity compares grayscale images (height × width): convert colour images to gray first")
    return np.stack(arrays).astype(np.float64)


def _mean_similarity(filtered: Sequence[np.ndarray], half_width: int, covariance_norm: float) -> np.ndarray:
    """Mean SSIM per image from the windowed means of x, y, x², y² and xy (scikit-image's
    ``structural_similarity``, constants K1 = 0.01 and K2 = 0.03 at ``data_range=255``), the border cropped first."""
    inner = (slice(None), slice(half_width, -half_width), slice(half_width, -half_width))
    ux, uy, uxx, uyy, uxy = (f[inner] for f in filtered)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vx, vy, vxy = (covariance_norm * (uxx - ux * ux), covariance_norm * (uyy - uy * uy), covariance_norm * (uxy - ux * uy))
    similarity = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return similarity.mean(axis=(1, 2), dtype=np.float64)


def error_map(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Absolute error per pixel, in gray levels (float32), of an image against a reference."""
    if estimate.shape != reference.shape:
        raise UpscaleError(f"cannot compare a {estimate.shape} image with a {reference.shape} reference: resize one first")
    return np.abs(estimate.astype(np.float32) - reference.astype(np.float32))


def _check_methods(methods: Sequence[str]) -> list[str]:
    methods = [check_method(m) for m in methods]
    if not methods:
        raise UpscaleError(f"no upscaling methods given: choose from {', '.join(METHODS)}")
    return methods


def _check_sizes(sizes: Sequence[int], low: int) -> list[int]:
    sizes = [int(s) for s in sizes]
    bad = [s for s in sizes if not low <= s <= HR_SIZE]
    if bad or not sizes:
        raise UpscaleError(f"fidelity sizes {bad or 'none'} are out of range: choose sizes from {low} to {HR_SIZE}")
    return sizes


def resolver_for(method: str, sr_model: "SuperResolver | None" = None):
    """The model a learned ``method`` uses (see :func:`cxr_lib.models.upscale.learned_model`), or None for an interpolation."""
    return learned_model(method, sr_model)


def upscaled(
    images: Sequence[np.ndarray],
    method: str,
    sizes: Sequence[int],
    sr_model: "SuperResolver | None" = None,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> dict[int, list[np.ndarray]]:
    """Each size → the images upscaled by ``method``; a learned model runs once for all sizes."""
    model = resolver_for(method, sr_model)
    if model is None:
        return {size: upscale_batch(images, method, size) for size in sizes}
    enlarged = model.super_resolve(list(images), progress=True)
    return {size: [resize(image, size, final_resize) for image in enlarged] for size in sizes}


def fidelity_table(
    split: "Split",
    hr: "HRReference",
    methods: Sequence[str],
    indices: Sequence[int] | None = None,
    sizes: Sequence[int] = FIDELITY_SIZES,
    sr_model: "SuperResolver | None" = None,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> pd.DataFrame:
    """PSNR and SSIM of each method against the HR image: one row per index × method × size.

    ``indices`` defaults to every test index with a reference; one without raises
    :class:`~cxr_lib.errors.HRUnavailableError`. Rows record the model id and revision of a
    learned method, whether it was a stand-in, and the method's upscaling time per image in
    milliseconds (all sizes together; model loading excluded).
    """
    import time


    methods = _check_methods(methods)
    sizes = _check_sizes(sizes, split.size)
    indices = hr.available(split.indices) if indices is None else [int(i) for i in indices]
    references = {i: hr.image(i) for i in indices}
    truth = {size: [resize(references[i], size, final_resize) for i in indices] for size in sizes}
    lows = [split.image(i) for i in indices]
    outputs, models, per_image = {}, {}, {}
    for method in progress_bar(methods, desc="fidelity", unit="method", disable=len(methods) < 2):
        models[method] = resolver_for(method, sr_model)
        started = time.perf_counter()  # each upscaler timed alone, before any scoring
        outputs[method] = upscaled(lows, method, sizes, models[method], final_resize)
        per_image[method] = 1000 * (time.perf_counter() - started) / max(len(lows), 1)
    rows: list[dict] = []
    for size in sizes:
        scores = image_scores({method: outputs[method][size] for method in methods}, truth[size])
        for method in methods:
            model = models[method]
            for position, index in enumerate(indices):
                rows.append({
                    "index": index, "label": split.label(index), "method": method, "size": size,
                    **{name: float(values[position]) for name, values in scores[method].items()},
                    "model": model.model_id if model else "", "revision": (model.revision or "") if model else "",
                    "stand_in": bool(model and model.is_stand_in), "ms_per_image": per_image[method],
                })
    order = {method: k for k, method in enumerate(methods)}
    frame = pd.DataFrame(rows, columns=list(FIDELITY_COLUMNS))
    return frame.sort_values("method", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> "Estimate":
    """Mean with a Student-t confidence interval (NaN bounds for fewer than two values)."""
    from scipy import stats


    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), total=0)
    mean = float(values.mean())
    if len(values) < 2:
        return Estimate(mean, float("nan"), float("nan"), total=len(values))
    half = float(stats.sem(values) * stats.t.ppf((1 + confidence) / 2, len(values) - 1))
    return Estimate(mean, mean - half, mean + half, total=len(values))


def summarise_fidelity(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean PSNR and SSIM (both windows) with 95% CIs per method and size (methods in :data:`METHODS` order)."""
    rows = []
    for (method, size), group in frame.groupby(["method", "size"], sort=False):
        p, s = mean_ci(group["psnr"], confidence), mean_ci(group["ssim"], confidence)
        u = mean_ci(group["ssim_uniform7"], confidence)
        rows.append({
            "method": method, "size": int(size), "n": len(group),
            "psnr": p.value, "psnr_low": p.low, "psnr_high": p.high,
            "ssim": s.value, "ssim_low": s.low, "ssim_high": s.high,
            "ssim_uniform7": u.value, "ssim_uniform7_low": u.low, "ssim_uniform7_high": u.high,
            "model": group["model"].iloc[0], "stand_in": bool(group["stand_in"].any()),
            "ms_per_image": float(group["ms_per_image"].iloc[0]) if "ms_per_image" in group else float("nan"),
        })
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    order = {m: k for k, m in enumerate(METHODS)}
    summary = summary.sort_values(["size", "method"], key=lambda c: c.map(order) if c.name == "method" else -c)
    return summary.reset_index(drop=True)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (means with 95% CIs); stand-in rows are marked, Real-ESRGAN's say real weights."""

    lines = ["| method | size | n | PSNR, dB (95% CI) | SSIM, Gaussian σ 1.5 (95% CI) | SSIM, uniform 7×7 (95% CI) |",
             "|---|---:|---:|---|---|---|"]
    for row in summary.itertuples():
        name = display_name(row.method, row.stand_in)
        lines.append(
            f"| {name} | {row.size} | {row.n} | {row.psnr:.2f} ({row.psnr_low:.2f}–{row.psnr_high:.2f}) "
            f"| {row.ssim:.3f} ({row.ssim_low:.3f}–{row.ssim_high:.3f}) "
            f"| {row.ssim_uniform7:.3f} ({row.ssim_uniform7_low:.3f}–{row.ssim_uniform7_high:.3f}) |"
        )
    if summary["stand_in"].any():
        lines += ["", f"STAND-IN: {STAND_IN_LABEL}."]
    return "\n".join(lines) + "\n"


def summary_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary for display: display names (stand-ins marked, Real-ESRGAN's real weights said),
    size, n, and each mean with its 95% CI as text."""
    return summary.assign(
        method=[display_name(m, s) for m, s in zip(summary["method"], summary["stand_in"])],
        psnr=[f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in zip(summary["psnr"], summary["psnr_low"], summary["psnr_high"])],
        ssim=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in zip(summary["ssim"], summary["ssim_low"], summary["ssim_high"])],
        ssim_uniform7=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                       zip(summary["ssim_uniform7"], summary["ssim_uniform7_low"], summary["ssim_uniform7_high"])],
    )[["method", "size", "n", "psnr", "ssim", "ssim_uniform7"]].rename(
        columns={"psnr": "PSNR dB [95% CI]", "ssim": "SSIM, Gaussian σ 1.5 [95% CI]", "ssim_uniform7": "SSIM, uniform 7×7 [95% CI]"})


def summary_text(summary: pd.DataFrame) -> str:
    """The summary as a plain console table; stand-in rows are marked, Real-ESRGAN's say real weights."""

    text = summary_frame(summary).to_string(index=False)
    if summary["stand_in"].any():
        text += f"\nSTAND-IN: {STAND_IN_LABEL}"
    return text


def paired_differences(frame: pd.DataFrame, baseline: str = PAIRED_BASELINE, confidence: float = 0.95) -> pd.DataFrame:
    """Each method minus ``baseline`` on the same images, per size: the mean per-image difference
    in PSNR and in SSIM with a Student-t 95% CI, and the share of images on which the method is
    closer to the real image (higher PSNR; higher SSIM). Positive differences mean closer than
    ``baseline``. Empty when ``baseline`` was not scored.
    """
    columns = ["method", "baseline", "size", "n", "d_psnr", "d_psnr_low", "d_psnr_high",
               "d_ssim", "d_ssim_low", "d_ssim_high", "closer_psnr", "closer_ssim", "stand_in"]
    rows = []
    for size in dict.fromkeys(frame["size"]):
        at_size = frame[frame["size"] == size]
        base = at_size[at_size["method"] == baseline].set_index("index")
        if base.empty:
            continue
        order = {m: k for k, m in enumerate(METHODS)}
        for method in sorted(dict.fromkeys(at_size["method"]), key=lambda m: order.get(m, len(order))):
            if method == baseline:
                continue
            other = at_size[at_size["method"] == method].set_index("index")
            common = base.index.intersection(other.index)
            d_psnr = other.loc[common, "psnr"] - base.loc[common, "psnr"]
            d_ssim = other.loc[common, "ssim"] - base.loc[common, "ssim"]
            p, s = mean_ci(d_psnr, confidence), mean_ci(d_ssim, confidence)
            rows.append({
                "method": method, "baseline": baseline, "size": int(size), "n": len(common),
                "d_psnr": p.value, "d_psnr_low": p.low, "d_psnr_high": p.high,
                "d_ssim": s.value, "d_ssim_low": s.low, "d_ssim_high": s.high,
                "closer_psnr": float((d_psnr > 0).mean()) if len(common) else float("nan"),
                "closer_ssim": float((d_ssim > 0).mean()) if len(common) else float("nan"),
                "stand_in": bool(other["stand_in"].any()),
            })
    return pd.DataFrame(rows, columns=columns)


def paired_markdown(differences: pd.DataFrame) -> str:
    """The paired differences as a Markdown table ("" when there are none)."""
    if differences.empty:
        return ""
    baseline = differences["baseline"].iloc[0]
    lines = [f"| method − {baseline} | size | n | ΔPSNR, dB (95% CI) | ΔSSIM (95% CI) | images closer than {baseline} (PSNR / SSIM) |",
             "|---|---:|---:|---|---|---|"]
    for row in differences.itertuples():
        lines.append(
            f"| {display_name(row.method, row.stand_in)} | {row.size} | {row.n} "
            f"| {row.d_psnr:+.2f} ({row.d_psnr_low:+.2f} to {row.d_psnr_high:+.2f}) "
            f"| {row.d_ssim:+.3f} ({row.d_ssim_low:+.3f} to {row.d_ssim_high:+.3f}) "
            f"| {_count(row.closer_psnr, row.n)} / {_count(row.closer_ssim, row.n)} |"
        )
    return "\n".join(lines) + "\n"


def _count(share: float, n: int) -> str:
    """``554 of 555``: how many images a share of ``n`` is (never rounded to "all" or "none")."""
    return "n/a" if not np.isfinite(share) else f"{int(round(share * n))} of {n}"


def paired_findings(differences: pd.DataFrame, size: int = HR_SIZE, methods: Sequence[str] = LEARNED) -> str:
    """Markdown bullets, one per method of ``methods`` (the learned ones by default) at ``size``:
    how far from the baseline it is, and how often closer."""
    rows = differences[(differences["size"] == size) & differences["method"].isin(list(methods))]
    lines = []
    for row in rows.itertuples():
        if not row.n:
            continue
        verb = direction(row.d_psnr_low, row.d_psnr_high, verbs=("closer to", "further from", "not shown closer to nor further from"))
        lines.append(
            f"- {display_name(row.method, row.stand_in)} at {size}×{size}: {verb} the real image than {row.baseline} — "
            f"PSNR {row.d_psnr:+.2f} dB (95% CI {row.d_psnr_low:+.2f} to {row.d_psnr_high:+.2f}), "
            f"SSIM {row.d_ssim:+.3f} ({row.d_ssim_low:+.3f} to {row.d_ssim_high:+.3f}); closer than {row.baseline} "
            f"on {_count(row.closer_psnr, row.n)} images by PSNR and {_count(row.closer_ssim, row.n)} by SSIM."
        )
    return "\n".join(lines) + ("\n" if lines else "")


def paired_frame(differences: pd.DataFrame) -> pd.DataFrame:
    """The paired differences for display: display names, size, n, each mean difference with its
    95% CI as text, and the share of images closer than the baseline by PSNR and by SSIM."""
    if differences.empty:
        return pd.DataFrame()
    baseline = differences["baseline"].iloc[0]
    return pd.DataFrame({
        f"method − {baseline}": [display_name(m, s) for m, s in zip(differences["method"], differences["stand_in"])],
        "size": differences["size"], "n": differences["n"],
        "ΔPSNR dB [95% CI]": [f"{v:+.2f} [{lo:+.2f}, {hi:+.2f}]" for v, lo, hi in
                              zip(differences["d_psnr"], differences["d_psnr_low"], differences["d_psnr_high"])],
        "ΔSSIM [95% CI]": [f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]" for v, lo, hi in
                           zip(differences["d_ssim"], differences["d_ssim_low"], differences["d_ssim_high"])],
        f"images closer than {baseline} (PSNR / SSIM)": [f"{_count(p, n)} / {_count(q, n)}" for p, q, n in
                                                        zip(differences["closer_psnr"], differences["closer_ssim"], differences["n"])],
    })


def paired_text(differences: pd.DataFrame) -> str:
    """The paired differences as a plain console table ("" when there are none)."""
    return "" if differences.empty else paired_frame(differences).to_string(index=False)


# --------------------------------------------------------------------------- cases for figures


@dataclass
class FidelityCase:
    """One test image: its 28×28 input, each method's output, the HR image, and error maps."""

    index: int
    label: int
    low: np.ndarray
    hr: np.ndarray
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # method → (PSNR, SSIM)
    titles: dict[str, str] = field(default_factory=dict)  # method → display name


def fidelity_cases(
    split: "Split",
    hr: "HRReference",
    indices: Sequence[int],
    methods: Sequence[str],
    size: int = HR_SIZE,
    sr_model: "SuperResolver | None" = None,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> list[FidelityCase]:
    """The outputs, error maps and scores of each method for a few cases (for a figure)."""
    methods = _check_methods(methods)
    size = _check_sizes([size], split.size)[0]
    indices = [int(i) for i in indices]
    cases = [FidelityCase(i, split.label(i), split.image(i), resize(hr.image(i), size, final_resize)) for i in indices]
    for method in methods:
        model = resolver_for(method, sr_model)
        outputs = upscaled([case.low for case in cases], method, [size], model, final_resize)[size]
        for case, output in zip(cases, outputs):
            case.outputs[method] = output
            case.errors[method] = error_map(output, case.hr)
            case.scores[method] = (psnr(output, case.hr), ssim(output, case.hr))
            case.titles[method] = method_label(method, model)
    return cases


# --------------------------------------------------------------------------- a whole run, to files


@dataclass
class FidelityRun:
    """A fidelity table, its summary, the paired differences from Lanczos, the learned models, and how long it took."""

    table: pd.DataFrame
    summary: pd.DataFrame
    seconds: float
    paired: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: dict[str, str] = field(default_factory=dict)  # learned method → one line on its model


def run_fidelity(
    methods: Sequence[str],
    model: str | None = None,
    limit: int | None = None,
    sizes: Sequence[int] = FIDELITY_SIZES,
    data_dir=None,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> FidelityRun:
    """Fidelity of ``methods`` over the test images with a reference (the first ``limit`` of them)."""
    import time


    methods = _check_methods(methods)
    if limit is not None and limit < 1:
        raise ParameterError(f"--limit {limit} is not positive: give the number of images to compare (1 or more)")
    start = time.perf_counter()
    split, hr = load_split("test", data_dir=data_dir), load_hr_reference(data_dir)
    indices = hr.available(split.indices)[:limit]
    resolver = load_super_resolver(model or DEFAULT_SWIN2SR) if "swin2sr" in methods else None
    learned = {m: resolver_for(m, resolver) for m in methods}  # every model loads (or fails) before any work
    models = {m: describe_model(learned[m]) for m in methods if learned[m] is not None}
    table = fidelity_table(split, hr, methods, indices, sizes, resolver, final_resize)
    return FidelityRun(table, summarise_fidelity(table), time.perf_counter() - start, paired_differences(table), models)


def describe_model(model) -> str:
    """One line on a learned model: its own description, or its id, revision and any stand-in mark."""
    if hasattr(model, "describe"):
        return model.describe()
    mark = " (STAND-IN)" if model.is_stand_in else ""
    return f"{model.model_id}{mark}, revision {model.revision or 'unknown'}, {model.device}"


def fidelity_markdown(run: FidelityRun, csv_name: str = "FILE.csv") -> str:
    """A Markdown page: what was compared, the summary table, the paired differences from Lanczos,
    the learned models and their speed, and how to regenerate it (``csv_name``: the per-image table)."""
    import os

    table = run.table
    methods = list(dict.fromkeys(table["method"]))
    sizes = " and ".join(f"{s}×{s}" for s in dict.fromkeys(table["size"]))
    paired = ""
    if not run.paired.empty:
        paired = ("\n## Image by image, against Lanczos\n\nEach method's PSNR and SSIM minus Lanczos's on the same image "
                  "(mean of the per-image differences with a Student-t 95% confidence interval; positive is closer "
                  "to the real image than Lanczos), and the share of images on which it is closer.\n\n"
                  + paired_markdown(run.paired))
    models = ""
    if run.models:
        models = "\n## Models\n\n" + "".join(f"- {line}\n" for line in run.models.values())
    speed = ""
    if "ms_per_image" in table:
        times = table.drop_duplicates("method").set_index("method")["ms_per_image"]
        speed = ("\nUpscaling time per image, all sizes together, model loading excluded "
                 f"({os.cpu_count()} CPU cores): "
                 + "; ".join(f"{display_name(m, bool(table.loc[table['method'] == m, 'stand_in'].any()))} "
                             f"{_milliseconds(times[m])}" for m in methods) + ".\n")
    return (
        "# Upscaling fidelity against the real high-resolution images\n\n"
        f"Each of {table['index'].nunique()} PneumoniaMNIST test images (28×28) with a real high-resolution "
        f"counterpart was upscaled by {', '.join(methods)} and compared with the real image at {sizes} "
        "(the real image brought down with Lanczos where smaller than 224). The real image is itself a public "
        "copy of the Kermany original stored at 224×224 and cropped to MedMNIST's field of view, not the "
        "radiograph as acquired. PSNR and SSIM from scikit-image (`data_range=255`); the headline SSIM uses "
        "Wang et al.'s Gaussian window (σ = 1.5, population covariances), scikit-image's default uniform 7×7 "
        "window is the last column; mean over images with a Student-t 95% confidence interval; higher is "
        "closer to the real image.\n\n"
        + summary_markdown(run.summary)
        + paired
        + models
        + speed
        + f"\nRegenerate with `cxr fidelity --methods {','.join(methods)} --out {csv_name} --markdown FILE.md` "
        f"(this run: {run.seconds:.1f} s).\n"
    )


#: How far a committed score may be from the same score recomputed now (CPU kernels differ a little between machines).
SPOT_CHECK_TOLERANCE = {"psnr": 0.05, "ssim": 0.002, "ssim_uniform7": 0.002}


def load_committed(
    path,
    split: "Split",
    hr: "HRReference",
    methods: Sequence[str],
    indices: Sequence[int] | None = None,
    sizes: Sequence[int] = FIDELITY_SIZES,
    spot_check: int = 2,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> pd.DataFrame:
    """The rows of ``methods`` from a per-image table written by ``cxr fidelity``, checked against the data.

    The file must have the table's columns; no row may repeat an (index, method, size); every
    index must be a test image with a real high-resolution counterpart and carry that image's
    label; no row may come from a stand-in; and for each method and size it must cover
    ``indices`` (default: every test image with a reference). Only those rows are returned.
    ``spot_check`` images (the first ones) are then recomputed now and must match the file
    within :data:`SPOT_CHECK_TOLERANCE`. Any failure raises :class:`~cxr_lib.errors.DataError`.
    """
    from pathlib import Path

    name = Path(path).as_posix()
    path = locate(path)
    methods = _check_methods(methods)
    sizes = _check_sizes(sizes, split.size)
    wanted = hr.available(split.indices) if indices is None else [int(i) for i in indices]
    if not Path(path).is_file():
        raise DataError(f"committed fidelity table {name} does not exist: write it with "
                        f"cxr fidelity --methods {','.join(methods)} --out {name}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"committed fidelity table {name} is not a readable CSV ({type(exc).__name__}): write it again with cxr fidelity") from None
    missing_columns = [c for c in FIDELITY_COLUMNS if c not in table and c != "ms_per_image"]
    if missing_columns:
        raise DataError(f"committed fidelity table {name} lacks columns {', '.join(missing_columns)}: write it again with cxr fidelity")
    table = table.assign(ms_per_image=table["ms_per_image"] if "ms_per_image" in table else float("nan"))
    if table.duplicated(["index", "method", "size"]).any():
        raise DataError(f"committed fidelity table {name} repeats an (index, method, size) row: write it again with cxr fidelity")
    table = table[table["method"].isin(methods) & table["size"].isin(sizes)]
    references = set(hr.available(split.indices))
    strangers = sorted(set(table["index"]) - references)
    if strangers:
        raise DataError(f"committed fidelity table {name} scores test index {strangers[0]}, which has no real "
                        "high-resolution image here: the file was made from other data")
    labels = np.array([split.label(int(i)) for i in table["index"]], dtype=int)
    if (labels != table["label"].to_numpy()).any():
        wrong = int(table.loc[labels != table["label"].to_numpy(), "index"].iloc[0])
        raise DataError(f"committed fidelity table {name} gives test index {wrong} the wrong label: the file was made from other data")
    scores = table[["psnr", "ssim", "ssim_uniform7"]].apply(pd.to_numeric, errors="coerce")
    if scores.isna().any().any():
        raise DataError(f"committed fidelity table {name} has empty or non-numeric PSNR or SSIM values: write it again with cxr fidelity")
    table = table.assign(psnr=scores["psnr"], ssim=scores["ssim"], ssim_uniform7=scores["ssim_uniform7"])
    if table["stand_in"].astype(str).str.lower().isin(["true", "1"]).any():
        raise DataError(f"committed fidelity table {name} has rows made by a stand-in model: commit results of real models only")
    for method in methods:
        for size in sizes:
            have = set(table.loc[(table["method"] == method) & (table["size"] == size), "index"])
            lacking = [i for i in wanted if i not in have]
            if lacking:
                raise DataError(f"committed fidelity table {name} lacks {method} at {size}×{size} for {len(lacking)} of "
                                f"{len(wanted)} images (e.g. test index {lacking[0]}): rerun cxr fidelity --methods {method}")
    table = table[table["index"].isin(wanted)].reset_index(drop=True)
    _spot_check(table, name, split, hr, methods, wanted[:max(spot_check, 0)], sizes, final_resize)
    return table[list(FIDELITY_COLUMNS)]


def combined_scores(
    split: "Split",
    hr: "HRReference",
    methods: Sequence[str],
    committed: str | None = None,
    committed_methods: Sequence[str] = (),
    indices: Sequence[int] | None = None,
    sizes: Sequence[int] = FIDELITY_SIZES,
    sr_model: "SuperResolver | None" = None,
    spot_check: int = 2,
) -> tuple[pd.DataFrame, str]:
    """Per-image scores of ``methods`` computed now and of ``committed_methods`` read from the
    ``committed`` CSV (checked by :func:`load_committed`), and one line of Markdown saying which is which.

    A method may be in one list only; ``committed_methods`` without a ``committed`` file is an error.
    Against MedMNIST+'s own 224×224 file (``hr.official``: a fresh runtime's download) the committed
    methods are computed now as well: committed tables are scored against the high-resolution test
    subset, other images of the same X-rays.
    """

    both = sorted(set(methods) & set(committed_methods))
    if both:
        raise ParameterError(f"{', '.join(both)} is both computed now and read from a file: list each method once")
    if committed_methods and not committed:
        raise ParameterError(f"no committed fidelity table for {', '.join(committed_methods)}: set the file, or compute them now")
    recomputed = list(committed_methods) if hr.official else []
    methods, committed_methods = [*methods, *recomputed], [m for m in committed_methods if m not in recomputed]
    indices = hr.available(split.indices) if indices is None else [int(i) for i in indices]
    parts = [fidelity_table(split, hr, methods, indices, sizes, sr_model)] if methods else []
    note = f"Computed now: {', '.join(display_name(m) for m in methods) or 'none'}."
    if recomputed:
        note += f" ({', '.join(map(display_name, recomputed))} too: `{committed}` was made on the high-resolution test subset, not on MedMNIST+'s 224×224 file.)"
    if committed_methods:
        read = load_committed(committed, split, hr, committed_methods, indices, sizes, spot_check)
        parts.append(read)
        speed = read.drop_duplicates("method").set_index("method")["ms_per_image"]
        described = ", ".join(f"{display_name(m)} ({_milliseconds(speed[m])} per image when computed)" for m in committed_methods)
        note += (f" Read from `{committed}` (made by `cxr fidelity`): {described}; checked against the data — "
                 f"the same {len(indices)} test images and labels, real models only — and {min(spot_check, len(indices))} "
                 "images recomputed now match it.")
    if not parts:
        raise ParameterError("no upscaling methods to score: list some to compute now or to read from a file")
    return pd.concat(parts, ignore_index=True), note


def _spot_check(table: pd.DataFrame, name: str, split: "Split", hr: "HRReference", methods: Sequence[str],
                indices: Sequence[int], sizes: Sequence[int], final_resize: str) -> None:
    """Recompute a few committed rows now; raise :class:`DataError` when one differs."""
    if not indices:
        return
    fresh = fidelity_table(split, hr, methods, indices, sizes, final_resize=final_resize)
    merged = fresh.merge(table, on=["index", "method", "size"], suffixes=("_now", "_file"))
    for metric, tolerance in SPOT_CHECK_TOLERANCE.items():
        gap = (merged[f"{metric}_now"] - merged[f"{metric}_file"]).abs()
        if (gap > tolerance).any():
            row = merged.loc[gap.idxmax()]
            raise DataError(
                f"committed fidelity table {name} says {metric.upper()} {row[f'{metric}_file']:.4g} for {row['method']} on test "
                f"index {row['index']} at {row['size']}, recomputed now {row[f'{metric}_now']:.4g}: "
                "the model, code or data changed since it was written; rerun cxr fidelity")


def _milliseconds(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def write_fidelity(run: FidelityRun, csv_path, markdown_path=None) -> list:
    """Write the per-image table as CSV and, when asked, the summary as Markdown (atomically)."""

    from pathlib import Path

    written = [atomic_write_text(csv_path, run.table.to_csv(index=False, float_format="%.6g"))]
    if markdown_path:
        name = Path(csv_path)
        shown = name.as_posix() if not name.is_absolute() else "FILE.csv"  # no local paths in a page
        written.append(atomic_write_text(markdown_path, fidelity_markdown(run, shown)))
    return written
