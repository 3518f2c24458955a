"""The high-resolution reader shown upscaled images: its inputs, its predictions, and the tables comparing them.

The reader (:mod:`cxr_lib.models.hr_reader`, trained by :mod:`cxr_lib.training.hr_reader`) is shown
each of the test images with a real high-resolution counterpart as one of the **inputs**
(:func:`input_images`): ``hr`` — the real original (the 224×224 reference brought to 112 with
Lanczos) — or an upscaler's 112×112 output of the 28×28 image (any name of
:data:`cxr_lib.models.upscale.METHODS`; a learned model's ×4 output as it is). :func:`summary_table`
gives its AUC (bootstrap CI) and sensitivity / specificity (Wilson CIs) at the val threshold per
input, beside the 28×28 CNN on the same cases; :func:`paired_table` compares inputs on the same
cases (DeLong's test of the AUCs, the exact McNemar test of the calls, Holm-adjusted).

Predictions are a table ``input, index, label, prob_pneumonia, pred``; a committed one is checked
against the data and a few of its rows recomputed (:func:`load_committed`) before it is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis.conditions import condition_images
from cxr_lib.analysis.evaluate import BOOTSTRAP_SAMPLES, auc_ci, binary_metrics, delong_test, mcnemar_exact
from cxr_lib.data.artifacts import locate
from cxr_lib.data.datasets import load_hr_reference, load_split
from cxr_lib.data.predictions import predictions_frame
from cxr_lib.errors import ParameterError, PredictionsError
from cxr_lib.models.hr_reader import READER_SIZE, Reader, load_reader
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.upscale import (
    CONDITIONS,
    DEFAULT_SWIN2SR,
    LEARNED,
    display_name,
    learned_model,
    load_super_resolver,
)
from cxr_lib.storage import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.data.datasets import HRReference, Split

#: The real original, as an input name.
ORIGINAL = "hr"
#: The 28×28 CNN's row in the tables.
CNN_ROW = "cnn-28"
PREDICTION_COLUMNS = ("input", "index", "label", "prob_pneumonia", "pred")
#: How far a committed probability may be from the same probability recomputed now.
SPOT_CHECK_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- inputs and predictions


def check_inputs(inputs: Sequence[str]) -> list[str]:
    """Return ``inputs`` if each is ``hr`` or an upscaler, else raise :class:`ParameterError`."""

    inputs = list(inputs)
    bad = [i for i in inputs if i not in CONDITIONS]
    if bad or not inputs:
        raise ParameterError(f"unknown reader input {bad[0] if bad else 'none'!r}: choose from {', '.join(CONDITIONS)}")
    return inputs


def input_images(test: "Split", hr: "HRReference", indices: Sequence[int], name: str, sr_model: Any = None) -> list[np.ndarray]:
    """The 112×112 grayscale images the reader is shown for input ``name`` at the given test indices."""

    check_inputs([name])
    return condition_images(test, list(indices), name, READER_SIZE, hr=hr, sr_model=sr_model, rgb=False)


def predict_inputs(reader: Reader, test: "Split", hr: "HRReference", inputs: Sequence[str],
                   indices: Sequence[int] | None = None, sr_model: Any = None) -> pd.DataFrame:
    """The reader's predictions for each input on the test images with a real original (or ``indices``)."""

    inputs = check_inputs(inputs)
    indices = hr.available(test.indices) if indices is None else [int(i) for i in indices]
    labels = [test.label(i) for i in indices]
    parts = []
    for name in inputs:
        probs = reader.probabilities(input_images(test, hr, indices, name, sr_model))
        parts.append(predictions_frame(indices, labels, probs, reader.threshold).assign(input=name))
    return pd.concat(parts, ignore_index=True)[list(PREDICTION_COLUMNS)]


def write_predictions(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a predictions table as CSV (atomically; probabilities to 8 decimals)."""

    return atomic_write_text(path, frame[list(PREDICTION_COLUMNS)].to_csv(index=False, float_format="%.8f"))


def run_prediction(checkpoint: str | os.PathLike, inputs: Sequence[str], out: str | os.PathLike,
                   model: str | None = None, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Load a reader, predict each input on the test images with a real original, write the CSV
    (``model``: the Swin2SR for the ``swin2sr`` input). Every model loads before any work."""

    inputs = check_inputs(inputs)
    if Path(out).suffix.lower() != ".csv":
        raise ParameterError(f"predictions output {out} should be a .csv file path")
    reader = load_reader(checkpoint)
    test, hr = load_split("test", data_dir=data_dir), load_hr_reference(data_dir)
    sr = load_super_resolver(model or DEFAULT_SWIN2SR) if "swin2sr" in inputs else None
    for name in inputs:
        if name != ORIGINAL:
            learned_model(name, sr)
    frame = predict_inputs(reader, test, hr, inputs, sr_model=sr)
    write_predictions(frame, out)
    return frame


def load_committed(path: str | os.PathLike, reader: Reader, test: "Split", hr: "HRReference", inputs: Sequence[str],
                   spot_check: int = 2, sr_model: Any = None) -> pd.DataFrame:
    """The rows of ``inputs`` from a predictions CSV written by ``cxr reader predict``, checked.

    Each input must cover every test image with a real original once, with the split's labels and
    calls at this reader's threshold; ``spot_check`` images per input are predicted again now and
    must match within :data:`SPOT_CHECK_TOLERANCE`. Any failure raises :class:`PredictionsError`.
    """
    inputs = check_inputs(inputs)
    name = Path(path).as_posix()
    path = locate(path)
    fix = f"write it again with `cxr reader predict --inputs {','.join(inputs)} --out {name}`"
    if not Path(path).is_file():
        raise PredictionsError(f"reader predictions {name} do not exist: {fix}")
    try:
        frame = pd.read_csv(path)
        frame = frame[list(PREDICTION_COLUMNS)].astype({"index": np.int64, "label": np.int64, "prob_pneumonia": float, "pred": np.int64})
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PredictionsError(f"reader predictions {name} are not a readable table with columns "
                               f"{', '.join(PREDICTION_COLUMNS)} ({type(exc).__name__}): {fix}") from None
    wanted = hr.available(test.indices)
    frame = frame[frame["input"].isin(inputs)]
    for item in inputs:
        rows = frame[frame["input"] == item]
        if sorted(rows["index"]) != wanted:
            raise PredictionsError(f"reader predictions {name} do not cover the {len(wanted)} test images with a real "
                                   f"original once for input {item!r}: {fix}")
    labels = np.array([test.label(int(i)) for i in frame["index"]])
    if (labels != frame["label"].to_numpy()).any():
        raise PredictionsError(f"reader predictions {name} disagree with the test labels: they were made from other data")
    if ((frame["prob_pneumonia"] >= reader.threshold).astype(int) != frame["pred"]).any():
        raise PredictionsError(f"reader predictions {name} were not called at this reader's threshold "
                               f"({reader.threshold:.4f}): they come from another reader; {fix}")
    checked = wanted[:max(spot_check, 0)]
    if checked:
        fresh = predict_inputs(reader, test, hr, inputs, checked, sr_model)
        merged = fresh.merge(frame, on=["input", "index"], suffixes=("_now", "_file"))
        gap = (merged["prob_pneumonia_now"] - merged["prob_pneumonia_file"]).abs()
        if len(merged) != len(fresh) or (gap > SPOT_CHECK_TOLERANCE).any():
            row = merged.loc[gap.idxmax()]
            raise PredictionsError(f"reader predictions {name} say P(pneumonia) {row['prob_pneumonia_file']:.4f} for "
                                   f"{row['input']} on test index {row['index']}, recomputed now "
                                   f"{row['prob_pneumonia_now']:.4f}: the reader, an upscaler or the data changed; {fix}")
    return frame.sort_values(["input", "index"], key=lambda c: c.map(inputs.index) if c.name == "input" else c,
                             kind="stable").reset_index(drop=True)


def combined_predictions(reader: Reader, test: "Split", hr: "HRReference", live: Sequence[str],
                         committed: str | os.PathLike | None = None, committed_inputs: Sequence[str] = (),
                         spot_check: int = 2, sr_model: Any = None) -> tuple[pd.DataFrame, str]:
    """Predictions for ``live`` inputs made now and ``committed_inputs`` read from ``committed`` (checked),
    and one line of Markdown saying which is which. Against MedMNIST+'s own 224×224 file (``hr.official``)
    the committed inputs are predicted now as well: committed predictions cover the high-resolution test subset."""
    both = sorted(set(live) & set(committed_inputs))
    if both:
        raise ParameterError(f"{', '.join(both)} is both predicted now and read from a file: list each input once")
    if committed_inputs and not committed:
        raise ParameterError(f"no committed reader predictions for {', '.join(committed_inputs)}: set the file, or predict them now")
    recomputed = list(committed_inputs) if hr.official else []
    live, committed_inputs = [*live, *recomputed], [i for i in committed_inputs if i not in recomputed]
    parts = [predict_inputs(reader, test, hr, live, sr_model=sr_model)] if live else []
    note = f"Predicted now: {', '.join(live) or 'none'}."
    if recomputed:
        note += f" ({', '.join(recomputed)} too: `{Path(committed).as_posix()}` was made on the high-resolution test subset, not on MedMNIST+'s 224×224 file.)"
    if "swin2sr" in [*live, *committed_inputs] and getattr(sr_model, "is_stand_in", False):
        note += f" The swin2sr input comes from a STAND-IN: {STAND_IN_LABEL}."
    if committed_inputs:
        parts.append(load_committed(committed, reader, test, hr, committed_inputs, spot_check, sr_model))
        note += (f" Read from `{Path(committed).as_posix()}` (made by `cxr reader predict` with the same reader): "
                 f"{', '.join(committed_inputs)}; checked against the data and this reader's threshold, and "
                 f"{spot_check} images per input predicted again now match it.")
    if not parts:
        raise ParameterError("no reader inputs: list some to predict now or to read from a file")
    return pd.concat(parts, ignore_index=True), note


# --------------------------------------------------------------------------- evaluation


def with_cnn(frame: pd.DataFrame, cnn: pd.DataFrame) -> pd.DataFrame:
    """The reader's predictions with the 28×28 CNN's (a ``cxr baseline predict`` table) on the same cases as input :data:`CNN_ROW`."""
    cases = sorted(set(frame["index"]))
    rows = cnn.set_index("index").loc[cases].reset_index()
    return pd.concat([rows.assign(input=CNN_ROW)[list(PREDICTION_COLUMNS)], frame], ignore_index=True)


def input_label(name: str) -> str:
    """How an input is named in tables and figures."""

    if name == ORIGINAL:
        return "real original (112×112)"
    if name == CNN_ROW:
        return "28×28 CNN (MaxViT, its own threshold)"
    return f"{display_name(name)} (28 → 112)"


def summary_table(frame: pd.DataFrame, n_resamples: int | None = None) -> pd.DataFrame:
    """Per input: cases, AUC with its bootstrap 95% CI (``AUC low``, ``AUC high``), and sensitivity,
    specificity and accuracy (Wilson 95% CIs, with counts) of the calls in ``pred`` (the val threshold)."""

    rows = []
    for name, group in frame.groupby("input", sort=False):
        auc = auc_ci(group["label"], group["prob_pneumonia"], n_resamples=n_resamples or BOOTSTRAP_SAMPLES)
        metrics = binary_metrics(group["label"], group["pred"])
        rows.append({"input": name, "shown as": input_label(name), "n": len(group),
                     "AUC": round(auc.value, 4), "AUC low": round(auc.low, 4), "AUC high": round(auc.high, 4),
                     **{k: str(metrics[k]) for k in ("sensitivity", "specificity", "accuracy")}})
    return pd.DataFrame(rows).set_index("input")


def default_pairs(inputs: Sequence[str]) -> list[tuple[str, str]]:
    """The comparisons worth making: each input against the real original (what it loses), each learned
    upscaler against Lanczos (what it gives back or takes away), and the 28×28 CNN against the reader on
    the real original and on Lanczos."""

    inputs = list(inputs)
    pairs = [(ORIGINAL, i) for i in inputs if ORIGINAL in inputs and i not in (ORIGINAL, CNN_ROW)]
    if "lanczos" in inputs:
        pairs += [("lanczos", i) for i in inputs if i in LEARNED]
    if CNN_ROW in inputs:
        pairs += [(CNN_ROW, i) for i in (ORIGINAL, "lanczos") if i in inputs]
    return pairs


def paired_table(frame: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Inputs compared on the same cases: the AUC difference (B − A) with DeLong's 95% CI and p-value,
    the cases only one of them calls right with the exact McNemar p-value, and both p-values
    Holm-adjusted over the comparisons in the table."""
    from statsmodels.stats.multitest import multipletests


    wide = frame.pivot_table(index="index", columns="input", values=["label", "prob_pneumonia", "pred"], aggfunc="first")
    inputs = list(dict.fromkeys(frame["input"]))
    pairs = default_pairs(inputs) if pairs is None else list(pairs)
    rows = []
    for a, b in pairs:
        if a not in inputs or b not in inputs:
            raise ParameterError(f"cannot compare {a!r} with {b!r}: the predictions hold {', '.join(inputs)}")
        both = wide[[("prob_pneumonia", a), ("prob_pneumonia", b)]].notna().all(axis=1)
        part = wide[both]
        truth = part[("label", a)].astype(int)
        auc = delong_test(truth, part[("prob_pneumonia", a)], part[("prob_pneumonia", b)])
        calls = mcnemar_exact(part[("pred", a)].astype(int) == truth, part[("pred", b)].astype(int) == truth)
        rows.append({"A": a, "B": b, "n": int(both.sum()), "AUC A": auc["auc_a"], "AUC B": auc["auc_b"],
                     "AUC B − A": auc["difference"], "95% CI": f"[{auc['low']:+.3f}, {auc['high']:+.3f}]",
                     "DeLong p": auc["p_value"], "right only with A": calls["a_only"],
                     "right only with B": calls["b_only"], "McNemar p": calls["p_value"]})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for column in ("DeLong p", "McNemar p"):
        table[f"{column} (Holm)"] = multipletests(table[column].to_numpy(), method="holm")[1]
    return table


def findings(summary: pd.DataFrame, paired: pd.DataFrame) -> str:
    """Markdown bullets: how much AUC the 28×28 bottleneck costs the reader, and what each upscaler changes."""
    lines = []
    for _, row in paired.iterrows():
        a, b, diff = row["A"], row["B"], row["AUC B − A"]
        tests = f"95% CI of the difference {row['95% CI']}, DeLong p {row['DeLong p']:.2g}"
        if a == ORIGINAL:
            verb = "loses" if diff < 0 else "gains"
            lines.append(f"- Shown {input_label(b)} instead of the real original, the reader {verb} {abs(diff):.3f} AUC "
                         f"({summary.loc[a, 'AUC']:.3f} → {summary.loc[b, 'AUC']:.3f}; {tests}).")
        elif a == "lanczos":
            change = "adds" if diff > 0 else "removes"
            lines.append(f"- {input_label(b)} instead of Lanczos {change} {abs(diff):.3f} AUC ({tests}); calls right only "
                         f"with it: {row['right only with B']}, only with Lanczos: {row['right only with A']} "
                         f"(McNemar p {row['McNemar p']:.2g}).")
        elif a == CNN_ROW:
            lines.append(f"- The reader shown the {input_label(b)}, against the 28×28 CNN on the same images: AUC "
                         f"{row['AUC B']:.3f} against {row['AUC A']:.3f} ({tests}); calls right only with the reader: "
                         f"{row['right only with B']}, only with the CNN: {row['right only with A']} "
                         f"(McNemar p {row['McNemar p']:.2g}).")
    return "\n".join(lines) + ("\n" if lines else "")


def threshold_note(frame: pd.DataFrame) -> str:
    """One Markdown paragraph: where the val threshold, chosen on real originals, puts each input's calls —
    the share of normal images called pneumonia, and of pneumonia images found."""
    rows = []
    for name, group in frame.groupby("input", sort=False):
        if name == CNN_ROW:
            continue
        normal, pneumonia = group[group["label"] == 0], group[group["label"] == 1]
        rows.append(f"{input_label(name)}: {(normal['pred'] == 1).mean():.0%} of {len(normal)} normal images called "
                    f"pneumonia, {(pneumonia['pred'] == 1).mean():.0%} of {len(pneumonia)} pneumonia images found")
    if not rows:
        return ""
    return ("At the threshold chosen on the real val originals — " + "; ".join(rows) + ". Where an upscaled "
            "input moves the calls toward pneumonia, the reader is taking what the upscaler does to a normal X-ray "
            "(blur, or texture it adds) for disease: a threshold chosen on real images does not carry over to "
            "upscaled ones.\n")
