"""Image fidelity of each upscaler against the real high-resolution image.

Every 28×28 test image with a high-resolution counterpart is upscaled by each method and
compared with the real image at 224×224 and at 112×112 (the HR image brought down with
Lanczos; at 112 Swin2SR's ×4 output is compared as it is, without a final resize). PSNR and
SSIM come from scikit-image (``data_range=255``, SSIM's default 7×7 window). Higher is closer
to the truth; a method that invents texture scores lower and shows it in its error map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from cxr_lib.errors import UpscaleError
from cxr_lib.upscale import (
    DEFAULT_FINAL_RESIZE,
    HR_SIZE,
    METHODS,
    check_method,
    method_label,
    resize,
    upscale_batch,
)

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.data import HRReference, Split
    from cxr_lib.evaluate import Estimate
    from cxr_lib.upscale import SuperResolver

#: Image sides at which fidelity is measured.
FIDELITY_SIZES = (224, 112)
#: Columns of :func:`fidelity_table`.
FIDELITY_COLUMNS = ("index", "label", "method", "size", "psnr", "ssim", "model", "revision", "stand_in")


def psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of a ``uint8`` image against a reference."""
    from skimage.metrics import peak_signal_noise_ratio

    with np.errstate(divide="ignore"):  # identical images: infinite PSNR, no warning
        return float(peak_signal_noise_ratio(reference, estimate, data_range=255))


def ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Structural similarity (scikit-image defaults, ``data_range=255``) of grayscale images."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(reference, estimate, data_range=255))


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


def resolver_for(method: str, sr_model: "SuperResolver | None" = None) -> "SuperResolver | None":
    """The Swin2SR that ``method`` uses (``sr_model`` or the default one), or None for the others."""
    if method != "swin2sr":
        return None
    from cxr_lib.upscale import default_super_resolver

    return sr_model or default_super_resolver()


def upscaled(
    images: Sequence[np.ndarray],
    method: str,
    sizes: Sequence[int],
    sr_model: "SuperResolver | None" = None,
    final_resize: str = DEFAULT_FINAL_RESIZE,
) -> dict[int, list[np.ndarray]]:
    """Each size → the images upscaled by ``method``; Swin2SR runs once for all sizes."""
    if method != "swin2sr":
        return {size: upscale_batch(images, method, size) for size in sizes}
    enlarged = resolver_for(method, sr_model).super_resolve(list(images), progress=True)
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
    :class:`~cxr_lib.errors.HRUnavailableError`. Rows record the model id and revision for
    ``swin2sr`` and whether it was a stand-in.
    """
    from tqdm.auto import tqdm

    methods = _check_methods(methods)
    sizes = _check_sizes(sizes, split.size)
    indices = hr.available(split.indices) if indices is None else [int(i) for i in indices]
    references = {i: hr.image(i) for i in indices}
    truth = {size: [resize(references[i], size, final_resize) for i in indices] for size in sizes}
    lows = [split.image(i) for i in indices]
    rows: list[dict] = []
    for method in tqdm(methods, desc="fidelity", unit="method", disable=len(methods) < 2):
        model = resolver_for(method, sr_model)
        outputs = upscaled(lows, method, sizes, model, final_resize)
        for size in sizes:
            for index, estimate, reference in zip(indices, outputs[size], truth[size]):
                rows.append({
                    "index": index, "label": split.label(index), "method": method, "size": size,
                    "psnr": psnr(estimate, reference), "ssim": ssim(estimate, reference),
                    "model": model.model_id if model else "", "revision": (model.revision or "") if model else "",
                    "stand_in": bool(model and model.is_stand_in),
                })
    return pd.DataFrame(rows, columns=list(FIDELITY_COLUMNS))


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> "Estimate":
    """Mean with a Student-t confidence interval (NaN bounds for fewer than two values)."""
    from scipy import stats

    from cxr_lib.evaluate import Estimate

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
    """Mean PSNR and SSIM with 95% CIs per method and size (methods in :data:`METHODS` order)."""
    rows = []
    for (method, size), group in frame.groupby(["method", "size"], sort=False):
        p, s = mean_ci(group["psnr"], confidence), mean_ci(group["ssim"], confidence)
        rows.append({
            "method": method, "size": int(size), "n": len(group),
            "psnr": p.value, "psnr_low": p.low, "psnr_high": p.high,
            "ssim": s.value, "ssim_low": s.low, "ssim_high": s.high,
            "model": group["model"].iloc[0], "stand_in": bool(group["stand_in"].any()),
        })
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    order = {m: k for k, m in enumerate(METHODS)}
    summary = summary.sort_values(["size", "method"], key=lambda c: c.map(order) if c.name == "method" else -c)
    return summary.reset_index(drop=True)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (means with 95% CIs); stand-in rows are marked."""
    from cxr_lib.stand_ins import STAND_IN_LABEL

    lines = ["| method | size | n | PSNR, dB (95% CI) | SSIM (95% CI) |", "|---|---:|---:|---|---|"]
    for row in summary.itertuples():
        name = f"{row.method} (STAND-IN)" if row.stand_in else row.method
        lines.append(
            f"| {name} | {row.size} | {row.n} | {row.psnr:.2f} ({row.psnr_low:.2f}–{row.psnr_high:.2f}) "
            f"| {row.ssim:.3f} ({row.ssim_low:.3f}–{row.ssim_high:.3f}) |"
        )
    if summary["stand_in"].any():
        lines += ["", f"STAND-IN: {STAND_IN_LABEL}."]
    return "\n".join(lines) + "\n"


def summary_text(summary: pd.DataFrame) -> str:
    """The summary as a plain console table; stand-in rows are marked."""
    from cxr_lib.stand_ins import STAND_IN_LABEL

    shown = summary.assign(
        method=[f"{m} (STAND-IN)" if s else m for m, s in zip(summary["method"], summary["stand_in"])],
        psnr=[f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in zip(summary["psnr"], summary["psnr_low"], summary["psnr_high"])],
        ssim=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in zip(summary["ssim"], summary["ssim_low"], summary["ssim_high"])],
    )[["method", "size", "n", "psnr", "ssim"]].rename(columns={"psnr": "PSNR dB [95% CI]", "ssim": "SSIM [95% CI]"})
    text = shown.to_string(index=False)
    if summary["stand_in"].any():
        text += f"\nSTAND-IN: {STAND_IN_LABEL}"
    return text


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
    """A fidelity table, its summary, and how long it took."""

    table: pd.DataFrame
    summary: pd.DataFrame
    seconds: float


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

    from cxr_lib.data import load_hr_reference, load_split
    from cxr_lib.errors import ParameterError
    from cxr_lib.upscale import DEFAULT_SWIN2SR, load_super_resolver

    methods = _check_methods(methods)
    if limit is not None and limit < 1:
        raise ParameterError(f"--limit {limit} is not positive: give the number of images to compare (1 or more)")
    start = time.perf_counter()
    split, hr = load_split("test", data_dir=data_dir), load_hr_reference(data_dir)
    indices = hr.available(split.indices)[:limit]
    resolver = load_super_resolver(model or DEFAULT_SWIN2SR) if "swin2sr" in methods else None
    table = fidelity_table(split, hr, methods, indices, sizes, resolver, final_resize)
    return FidelityRun(table, summarise_fidelity(table), time.perf_counter() - start)


def fidelity_markdown(run: FidelityRun) -> str:
    """A Markdown page: what was compared, how to regenerate it, and the summary table."""
    table = run.table
    methods = list(dict.fromkeys(table["method"]))
    sizes = " and ".join(f"{s}×{s}" for s in dict.fromkeys(table["size"]))
    return (
        "# Upscaling fidelity against the real high-resolution images\n\n"
        f"Each of {table['index'].nunique()} PneumoniaMNIST test images (28×28) with a real high-resolution "
        f"counterpart was upscaled by {', '.join(methods)} and compared with the real image at {sizes} "
        "(the real image brought down with Lanczos where smaller than 224). PSNR and SSIM from scikit-image "
        "(`data_range=255`); mean over images with a Student-t 95% confidence interval; higher is closer "
        "to the real image.\n\n"
        + summary_markdown(run.summary)
        + f"\nRegenerate with `cxr fidelity --methods {','.join(methods)} --out FILE.csv --markdown FILE.md` "
        f"(this run: {run.seconds:.1f} s).\n"
    )


def write_fidelity(run: FidelityRun, csv_path, markdown_path=None) -> list:
    """Write the per-image table as CSV and, when asked, the summary as Markdown (atomically)."""
    from cxr_lib.storage import atomic_write_text

    written = [atomic_write_text(csv_path, run.table.to_csv(index=False, float_format="%.6g"))]
    if markdown_path:
        written.append(atomic_write_text(markdown_path, fidelity_markdown(run)))
    return written
