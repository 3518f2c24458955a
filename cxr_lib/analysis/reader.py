"""The high-resolution reader shown upscaled images: its inputs, its predictions, and the tables comparing them.

The reader (:mod:`cxr_lib.models.hr_reader`, trained by :mod:`cxr_lib.training.hr_reader`) is shown
each image with a real original as one of the **inputs** (:func:`input_images`): ``hr`` — the real
original (on test the 224×224 reference brought to 112 with Lanczos; on val the 112×112 original) — or
an upscaler's 112×112 output of the 28×28 image (any name of :data:`cxr_lib.models.upscale.METHODS`; a
learned model's ×4 output as it is). Predictions are a table ``input, index, label, prob_pneumonia,
pred, stand_in`` per split; a committed one is checked against the data and a few of its rows
recomputed (:func:`load_committed`) before it is used.

**The family** (:data:`FAMILY`, :data:`FAMILY_PAIRS`) is fixed here, not by a profile: every input the
committed predictions hold plus the 28×28 CNN on the same images, and the comparisons that ask what
each upscaled input costs against the real original, what each learned upscaler gives over Lanczos
and over nearest neighbour (which adds no information, only sharpness), what each other
interpolation does against Lanczos, and what the 28×28 images hold against the real originals
(the CNN against the reader on them). Its p-values are Holm-adjusted over all of
:data:`FAMILY_PAIRS`, whichever inputs a profile predicts now and which it reads from the committed
files. Rows made by a stand-in model never enter a family table (:func:`split_by_provenance`).

**Comparisons that carry no threshold from elsewhere:** the AUC (DeLong's test with patient clusters,
:func:`cxr_lib.analysis.evaluate.delong_test`, the primary test) and the sensitivity at a fixed
specificity (:data:`FIXED_SPECIFICITY`, a point of each input's own ROC curve). **Thresholds chosen per
input** on that input's own val images (:func:`val_thresholds`: each upscaler's output of the val
originals, Youden's J, on the val images whose child has no train image). **The calibration shift**
(:func:`calibration_table`): every input called at the threshold chosen on the real val originals.
Intervals resample children, not images (:mod:`cxr_lib.analysis.resampling`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis import resampling
from cxr_lib.analysis.conditions import condition_images
from cxr_lib.analysis.evaluate import BOOTSTRAP_SAMPLES, auc_ci, binary_metrics, delong_test
from cxr_lib.analysis.verdict import ALPHA, direction
from cxr_lib.data.artifacts import locate
from cxr_lib.data.datasets import load_hr_pairs, load_hr_reference, load_split
from cxr_lib.data.predictions import predictions_frame
from cxr_lib.errors import ParameterError, PredictionsError
from cxr_lib.models.cnn import choose_threshold
from cxr_lib.models.hr_reader import READER_SIZE, Reader, load_reader
from cxr_lib.models.provenance import STAND_IN_LABEL, made_by_stand_in
from cxr_lib.models.upscale import CONDITIONS, DEFAULT_SWIN2SR, UPSCALERS, display_name, learned_model, load_super_resolver
from cxr_lib.storage import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.data.datasets import HRPairs, HRReference, Split

#: The real original, as an input name.
ORIGINAL = "hr"
#: The 28×28 CNN's row in the tables.
CNN_ROW = "cnn-28"
PREDICTION_COLUMNS = ("input", "index", "label", "prob_pneumonia", "pred", "stand_in")
#: The splits the reader is shown: test (the 555 images with a real original) and val (its 469 originals).
PREDICTION_SPLITS = ("test", "val")
#: How far a committed probability may be from the same probability recomputed now.
SPOT_CHECK_TOLERANCE = 1e-3
#: Every input of the family, in table order: the real original, the interpolations, the learned upscalers.
#: Pre-specified and fixed here, not read from the upscaler registry: a newly registered upscaler joins the
#: family (and its Holm correction) only by a deliberate change here, with its committed predictions.
FAMILY = ("hr", "nearest", "bilinear", "bicubic", "lanczos", "swin2sr-cxr", "realesr-animevideov3-x4", "realesrgan-x4plus")
_UPSCALED = FAMILY[1:]
#: The family's learned upscalers (those with a model), in table order.
LEARNED_FAMILY = tuple(name for name in _UPSCALED if UPSCALERS[name].needs_model)
_LEARNED = LEARNED_FAMILY
#: The comparisons of the family (A, B), tested as B − A; Holm over all of them.
FAMILY_PAIRS: tuple[tuple[str, str], ...] = (
    *((ORIGINAL, name) for name in _UPSCALED),  # what each upscaled input costs against the real original
    *(("lanczos", name) for name in _LEARNED),  # what a learned upscaler gives over the usual interpolation
    *(("nearest", name) for name in _LEARNED),  # ... and over an input that is only sharp
    *(("lanczos", name) for name in ("nearest", "bilinear", "bicubic")),  # the other interpolations
    (ORIGINAL, CNN_ROW),  # what the 28×28 images hold, against the real originals
)
#: The specificity at which sensitivities are compared (fixed before the comparison was run).
FIXED_SPECIFICITY = 0.90


# --------------------------------------------------------------------------- inputs and predictions


def check_inputs(inputs: Sequence[str]) -> list[str]:
    """Return ``inputs`` if each is ``hr`` or an upscaler, else raise :class:`ParameterError`."""

    inputs = list(inputs)
    bad = [i for i in inputs if i not in CONDITIONS]
    if bad or not inputs:
        raise ParameterError(f"unknown reader input {bad[0] if bad else 'none'!r}: choose from {', '.join(CONDITIONS)}")
    return inputs


def check_split(split: str) -> str:
    """Return ``split`` if the reader can be shown it, else raise :class:`ParameterError`."""
    if split not in PREDICTION_SPLITS:
        raise ParameterError(f"the reader is shown the {' or '.join(PREDICTION_SPLITS)} split, not {split!r}: "
                             "train images trained it")
    return split


@dataclass(frozen=True)
class PairOriginals:
    """The val split's real 112×112 originals, looked up by val index like the test reference."""

    pairs: "HRPairs"

    def image(self, index: int) -> np.ndarray:
        """The real original of val image ``index``."""
        rows = np.flatnonzero(self.pairs.indices == int(index))
        if not len(rows):
            raise ParameterError(f"val image {index} has no real original: use one of the {len(self.pairs)} that do")
        return self.pairs.high[int(rows[0])]

    def available(self, indices: Sequence[int] | None = None) -> list[int]:
        """The val indices (of ``indices``, or all) that have a real original, in order."""
        have = {int(i) for i in self.pairs.indices}
        return sorted(have) if indices is None else [int(i) for i in indices if int(i) in have]


def load_originals(split: str, data_dir: str | os.PathLike | None = None) -> "HRReference | PairOriginals":
    """The real originals of ``split``: the test reference, or the val pairs' originals."""
    return load_hr_reference(data_dir) if check_split(split) == "test" else PairOriginals(load_hr_pairs("val", data_dir))


def input_images(split: "Split", originals: Any, indices: Sequence[int], name: str, sr_model: Any = None) -> list[np.ndarray]:
    """The 112×112 grayscale images the reader is shown for input ``name`` at the given indices of ``split``."""

    check_inputs([name])
    return condition_images(split, list(indices), name, READER_SIZE, hr=originals, sr_model=sr_model, rgb=False)


def input_provenance(name: str, sr_model: Any = None) -> bool:
    """Whether input ``name`` is made by a stand-in model (the real original and interpolations never are)."""
    return name != ORIGINAL and made_by_stand_in(learned_model(name, sr_model))


def predict_inputs(reader: Reader, split: "Split", originals: Any, inputs: Sequence[str],
                   indices: Sequence[int] | None = None, sr_model: Any = None) -> pd.DataFrame:
    """The reader's predictions for each input on the images of ``split`` with a real original (or ``indices``)."""

    inputs = check_inputs(inputs)
    indices = originals.available(split.indices) if indices is None else [int(i) for i in indices]
    labels = [split.label(i) for i in indices]
    parts = []
    for name in inputs:
        probs = reader.probabilities(input_images(split, originals, indices, name, sr_model))
        parts.append(predictions_frame(indices, labels, probs, reader.threshold)
                     .assign(input=name, stand_in=input_provenance(name, sr_model)))
    return pd.concat(parts, ignore_index=True)[list(PREDICTION_COLUMNS)]


def write_predictions(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a predictions table as CSV (atomically; probabilities to 8 decimals)."""

    return atomic_write_text(path, frame[list(PREDICTION_COLUMNS)].to_csv(index=False, float_format="%.8f"))


def run_prediction(checkpoint: str | os.PathLike, inputs: Sequence[str], out: str | os.PathLike,
                   model: str | None = None, data_dir: str | os.PathLike | None = None,
                   split: str = "test") -> pd.DataFrame:
    """Load a reader, predict each input on the images of ``split`` (test or val) with a real original,
    write the CSV (``model``: the Swin2SR for the ``swin2sr`` input). Every model loads before any work."""

    inputs = check_inputs(inputs)
    check_split(split)
    if Path(out).suffix.lower() != ".csv":
        raise ParameterError(f"predictions output {out} should be a .csv file path")
    reader = load_reader(checkpoint)
    images, originals = load_split(split, data_dir=data_dir), load_originals(split, data_dir)
    sr = load_super_resolver(model or DEFAULT_SWIN2SR) if "swin2sr" in inputs else None
    for name in inputs:
        if name != ORIGINAL:
            learned_model(name, sr)
    frame = predict_inputs(reader, images, originals, inputs, sr_model=sr)
    write_predictions(frame, out)
    return frame


def load_committed(path: str | os.PathLike, reader: Reader, split: "Split", originals: Any, inputs: Sequence[str],
                   spot_check: int = 2, sr_model: Any = None) -> pd.DataFrame:
    """The rows of ``inputs`` from a predictions CSV written by ``cxr reader predict``, checked.

    Each input must cover every image of ``split`` with a real original once, with the split's labels
    and calls at this reader's threshold, made by real models only; ``spot_check`` images per input are
    predicted again now and must match within :data:`SPOT_CHECK_TOLERANCE`. Any failure raises
    :class:`PredictionsError`.
    """
    inputs = check_inputs(inputs)
    name = Path(path).as_posix()
    path = locate(path)
    fix = f"write it again with `cxr reader predict --split {split.name} --inputs {','.join(inputs)} --out {name}`"
    if not Path(path).is_file():
        raise PredictionsError(f"reader predictions {name} do not exist: {fix}")
    try:
        frame = pd.read_csv(path)
        frame = frame[list(PREDICTION_COLUMNS)].astype({"index": np.int64, "label": np.int64, "prob_pneumonia": float,
                                                        "pred": np.int64, "stand_in": bool})
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PredictionsError(f"reader predictions {name} are not a readable table with columns "
                               f"{', '.join(PREDICTION_COLUMNS)} ({type(exc).__name__}): {fix}") from None
    wanted = originals.available(split.indices)
    frame = frame[frame["input"].isin(inputs)]
    if frame["stand_in"].any():
        raise PredictionsError(f"reader predictions {name} hold rows made by a stand-in model: commit results of real models only")
    for item in inputs:
        rows = frame[frame["input"] == item]
        if sorted(rows["index"]) != wanted:
            raise PredictionsError(f"reader predictions {name} do not cover the {len(wanted)} {split.name} images with a "
                                   f"real original once for input {item!r}: {fix}")
    labels = np.array([split.label(int(i)) for i in frame["index"]])
    if (labels != frame["label"].to_numpy()).any():
        raise PredictionsError(f"reader predictions {name} disagree with the {split.name} labels: they were made from other data")
    if ((frame["prob_pneumonia"] >= reader.threshold).astype(int) != frame["pred"]).any():
        raise PredictionsError(f"reader predictions {name} were not called at this reader's threshold "
                               f"({reader.threshold:.4f}): they come from another reader; {fix}")
    checked = wanted[:max(spot_check, 0)]
    if checked:
        fresh = predict_inputs(reader, split, originals, inputs, checked, sr_model)
        merged = fresh.merge(frame, on=["input", "index"], suffixes=("_now", "_file"))
        gap = (merged["prob_pneumonia_now"] - merged["prob_pneumonia_file"]).abs()
        if len(merged) != len(fresh) or (gap > SPOT_CHECK_TOLERANCE).any():
            row = merged.loc[gap.idxmax()]
            raise PredictionsError(f"reader predictions {name} say P(pneumonia) {row['prob_pneumonia_file']:.4f} for "
                                   f"{row['input']} on {split.name} index {row['index']}, recomputed now "
                                   f"{row['prob_pneumonia_now']:.4f}: the reader, an upscaler or the data changed; {fix}")
    return frame.sort_values(["input", "index"], key=lambda c: c.map(inputs.index) if c.name == "input" else c,
                             kind="stable").reset_index(drop=True)


def combined_predictions(reader: Reader, split: "Split", originals: Any, live: Sequence[str],
                         committed: str | os.PathLike | None = None, spot_check: int = 2,
                         sr_model: Any = None) -> tuple[pd.DataFrame, str]:
    """Predictions on ``split`` for the ``live`` inputs made now and for every other input of :data:`FAMILY`
    read from ``committed`` (checked), and one line of Markdown saying which is which. Against MedMNIST+'s own
    224×224 file (``originals.official``) the whole family is predicted now: committed predictions cover the
    high-resolution test subset only."""
    live = check_inputs(live) if live else []
    from_file = [name for name in FAMILY if name not in live]
    recomputed = from_file if getattr(originals, "official", False) else []
    live, from_file = [*live, *recomputed], [name for name in from_file if name not in recomputed]
    if from_file and not committed:
        raise ParameterError(f"the reader's family needs {', '.join(from_file)} too: predict them now, or read them "
                             "from the committed predictions")
    parts = [predict_inputs(reader, split, originals, live, sr_model=sr_model)] if live else []
    note = f"Predicted now on the {split.name} images: {', '.join(live) or 'none'}."
    if recomputed and committed:
        note += (f" ({', '.join(recomputed)} too: `{Path(committed).as_posix()}` was made on the high-resolution "
                 "test subset, not on MedMNIST+'s 224×224 file.)")
    if any(input_provenance(name, sr_model) for name in live):
        note += f" Inputs made by a STAND-IN ({STAND_IN_LABEL}) are shown apart and enter no table of real results."
    if from_file:
        parts.append(load_committed(committed, reader, split, originals, from_file, spot_check, sr_model))
        note += (f" Read from `{Path(committed).as_posix()}` (made by `cxr reader predict --split {split.name}` with the "
                 f"same reader): {', '.join(from_file)}; checked against the data and this reader's threshold, real "
                 f"models only, and {spot_check} images per input predicted again now match it.")
    return pd.concat(parts, ignore_index=True), note


def with_cnn(frame: pd.DataFrame, cnn: pd.DataFrame) -> pd.DataFrame:
    """The reader's predictions with the 28×28 CNN's (a ``cxr baseline predict`` table) on the same cases as input :data:`CNN_ROW`."""
    cases = sorted(set(frame["index"]))
    rows = cnn.set_index("index").loc[cases].reset_index().assign(input=CNN_ROW, stand_in=False)
    return pd.concat([rows[list(PREDICTION_COLUMNS)], frame], ignore_index=True)


def split_by_provenance(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rows of the family (real models only), the real inputs outside it, and every stand-in's rows.

    Decided by each row's ``stand_in`` mark (set from the model that made it), never by which inputs a
    profile listed; a family input made by a stand-in is an error, since the family must be complete and real.
    """
    stand_in = frame["stand_in"].astype(bool)
    family = frame["input"].isin([*FAMILY, CNN_ROW])
    faked = sorted(set(frame.loc[family & stand_in, "input"]))
    if faked:
        raise ParameterError(f"{', '.join(faked)} came from a STAND-IN model: the reader's family takes real models only")
    missing = [name for name in (*FAMILY, CNN_ROW) if name not in set(frame["input"])]
    if missing:
        raise ParameterError(f"the reader's family lacks {', '.join(missing)}: every input of it is compared, in every profile")
    return frame[family], frame[~family & ~stand_in], frame[stand_in]


def input_label(name: str) -> str:
    """How an input is named in tables and figures."""

    if name == ORIGINAL:
        return "real original (112×112)"
    if name == CNN_ROW:
        return "28×28 CNN (MaxViT)"
    return f"{display_name(name)} (28 → 112)"


def summary_table(frame: pd.DataFrame, n_resamples: int | None = None) -> pd.DataFrame:
    """Per input: cases, AUC with its bootstrap 95% CI (``AUC low``, ``AUC high``; images resampled), and
    sensitivity, specificity and accuracy (Wilson 95% CIs) of the calls in ``pred`` — a quick look for the
    console; the study's tables are :func:`family_table` and its companions."""

    rows = []
    for name, group in frame.groupby("input", sort=False):
        auc = auc_ci(group["label"], group["prob_pneumonia"], n_resamples=n_resamples or BOOTSTRAP_SAMPLES)
        metrics = binary_metrics(group["label"], group["pred"])
        rows.append({"input": name, "shown as": input_label(name), "n": len(group),
                     "AUC": round(auc.value, 4), "AUC low": round(auc.low, 4), "AUC high": round(auc.high, 4),
                     **{k: str(metrics[k]) for k in ("sensitivity", "specificity", "accuracy")}})
    return pd.DataFrame(rows).set_index("input")


# --------------------------------------------------------------------------- thresholds and the family tables


def val_thresholds(val: pd.DataFrame, keep: Sequence[int]) -> pd.Series:
    """Per input, the threshold (Youden's J) chosen on that input's predictions for the val images ``keep``
    (the val images whose child has no train image)."""
    chosen = val[val["index"].isin([int(i) for i in keep])]
    if chosen.empty:
        raise ParameterError("no val image is left to choose the thresholds on: check the patient filter")
    return pd.Series({name: choose_threshold(group["label"], group["prob_pneumonia"])
                      for name, group in chosen.groupby("input", sort=False)}, name="threshold")


@dataclass
class Resamples:
    """The same patient-grouped bootstrap draws applied to every input on the same test images."""

    indices: np.ndarray  # test indices, sorted
    labels: np.ndarray
    scores: dict[str, np.ndarray]  # input → P(pneumonia), aligned to ``indices``
    groups: np.ndarray  # the child (or the image alone) behind each index
    weights: np.ndarray  # row 0 all ones, then one row per resample

    @classmethod
    def of(cls, frame: pd.DataFrame, groups: pd.Series | dict, n_resamples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> "Resamples":
        """Draws for the test predictions ``frame``; ``groups`` maps each test index to its group."""
        wide = frame.pivot_table(index="index", columns="input", values="prob_pneumonia", aggfunc="first").sort_index()
        labels = frame.drop_duplicates("index").set_index("index")["label"].loc[wide.index].to_numpy(int)
        keys = np.array([groups[int(i)] for i in wide.index], dtype=object)
        weights = resampling.bootstrap_weights(keys, n_resamples, seed)
        return cls(wide.index.to_numpy(), labels, {c: wide[c].to_numpy(float) for c in wide.columns}, keys, weights)

    def auc(self, name: str) -> np.ndarray:
        return resampling.weighted_auc(self.labels, self.scores[name], self.weights)

    def sensitivity_at_specificity(self, name: str, specificity: float = FIXED_SPECIFICITY) -> np.ndarray:
        return resampling.sensitivity_at_specificity(self.labels, self.scores[name], specificity, self.weights)

    def rates(self, name: str, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        return resampling.rates_at_threshold(self.labels, self.scores[name], threshold, self.weights)

    @property
    def children(self) -> int:
        return len(set(self.groups))

    def children_of(self, cls: int) -> int:
        """How many children have an image of class ``cls``."""
        return len(set(self.groups[self.labels == cls]))

    def rate_intervals(self, name: str, threshold: float) -> tuple[resampling.Resampled, resampling.Resampled]:
        """Sensitivity and specificity of ``name`` at ``threshold`` with their patient-grouped intervals."""
        sens, spec = self.rates(name, threshold)
        return resampling.rate_interval(sens, self.children_of(1)), resampling.rate_interval(spec, self.children_of(0))


def _share(name: str, draws: Resamples, threshold: float, cls: int) -> str:
    called = draws.scores[name] >= threshold
    members = draws.labels == cls
    hits = int((called == (cls == 1))[members].sum())
    return f"{hits}/{int(members.sum())}"


def family_table(draws: Resamples, thresholds: pd.Series, names: Sequence[str] | None = None,
                 specificity: float = FIXED_SPECIFICITY) -> pd.DataFrame:
    """Per input: AUC, sensitivity at ``specificity``, and sensitivity and specificity at the input's own
    val threshold — each with its patient-grouped bootstrap 95% interval."""
    rows = []
    for name in names or [n for n in (*FAMILY, CNN_ROW) if n in draws.scores]:
        auc = resampling.interval(draws.auc(name))
        at_spec = resampling.interval(draws.sensitivity_at_specificity(name, specificity))
        sens, spec = draws.rate_intervals(name, thresholds[name])
        rows.append({"input": name, "shown as": input_label(name), "n": len(draws.labels),
                     "AUC": round(auc.value, 4), "AUC low": round(auc.low, 4), "AUC high": round(auc.high, 4),
                     "AUC [95% CI]": str(auc), f"sensitivity at {specificity:.0%} specificity [95% CI]": str(at_spec),
                     "own threshold (val)": round(float(thresholds[name]), 4),
                     "sensitivity at own threshold [95% CI]": f"{sens} ({_share(name, draws, thresholds[name], 1)})",
                     "specificity at own threshold [95% CI]": f"{spec} ({_share(name, draws, thresholds[name], 0)})"})
    return pd.DataFrame(rows).set_index("input")


def family_comparisons(draws: Resamples, pairs: Sequence[tuple[str, str]] = FAMILY_PAIRS,
                       specificity: float = FIXED_SPECIFICITY, alpha: float = ALPHA) -> pd.DataFrame:
    """Each pair of the family (B − A on the same test images): the AUC difference with DeLong's test with
    patient clusters (95% CI, two-sided p, Holm over ``pairs``) and the verb it supports; the difference in
    sensitivity at ``specificity`` with its patient-grouped bootstrap interval."""
    from statsmodels.stats.multitest import multipletests

    rows = []
    for a, b in pairs:
        if a not in draws.scores or b not in draws.scores:
            raise ParameterError(f"cannot compare {a!r} with {b!r}: the predictions hold {', '.join(draws.scores)}")
        auc = delong_test(draws.labels, draws.scores[a], draws.scores[b], groups=draws.groups)
        sens = resampling.interval(draws.sensitivity_at_specificity(b, specificity)
                                   - draws.sensitivity_at_specificity(a, specificity))
        rows.append({"A": a, "B": b, "n": len(draws.labels), "children": draws.children, "AUC A": auc["auc_a"],
                     "AUC B": auc["auc_b"], "AUC B − A": auc["difference"], "low": auc["low"], "high": auc["high"],
                     "95% CI": f"[{auc['low']:+.4f}, {auc['high']:+.4f}]", "p": auc["p_value"],
                     f"Δ sensitivity at {specificity:.0%} specificity [95% CI]": sens.signed()})
    table = pd.DataFrame(rows)
    table["p (Holm)"] = multipletests(table["p"].to_numpy(), method="holm")[1]
    table["B against A"] = [direction(r["low"], r["high"], r["p (Holm)"], alpha) for _, r in table.iterrows()]
    return table


def calibration_table(draws: Resamples, thresholds: pd.Series, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Every input called at the threshold chosen on the real val originals: sensitivity and specificity
    (patient-grouped 95% intervals), the change in specificity from the real original, and the threshold
    the input's own val images would have chosen."""
    base = float(thresholds[ORIGINAL])
    _, real_spec = draws.rates(ORIGINAL, base)
    rows = []
    for name in names or [n for n in FAMILY if n in draws.scores]:
        _, spec = draws.rates(name, base)
        shift = resampling.interval(spec - real_spec)
        sensitivity, specificity = draws.rate_intervals(name, base)
        rows.append({"input": name, "shown as": input_label(name),
                     "sensitivity [95% CI]": f"{sensitivity} ({_share(name, draws, base, 1)})",
                     "specificity [95% CI]": f"{specificity} ({_share(name, draws, base, 0)})",
                     "specificity − real original's [95% CI]": "—" if name == ORIGINAL else shift.signed(),
                     "specificity, against the real original's": "—" if name == ORIGINAL else direction(shift.low, shift.high),
                     "threshold its own val images choose": round(float(thresholds[name]), 4)})
    table = pd.DataFrame(rows).set_index("input")
    table.attrs["threshold"] = base
    return table


def at_threshold(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """``frame`` with ``pred`` recalled at ``threshold`` (for a figure of the calls)."""
    return frame.assign(pred=(frame["prob_pneumonia"] >= threshold).astype(int))
