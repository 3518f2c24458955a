"""The super-resolution verdict in sentences, written from the tables: numbers and verbs both.

Three lines (:func:`verdict_lines`): how close each learned upscaler comes to the real image
(:func:`fidelity_line`, from :func:`cxr_lib.analysis.fidelity.paired_differences`); what the learned
upscalers give the high-resolution reader over Lanczos and over nearest neighbour (:func:`reader_line`,
from :func:`cxr_lib.analysis.reader.family_comparisons`); and what the upscaled inputs cost against the
real original, beside what the 28×28 images hold for a model trained on them (:func:`bottleneck_line`).
:func:`calibration_line` states the calibration shift apart. Every verb comes from
:func:`cxr_lib.analysis.verdict.direction` (the interval, and in the reader's family the Holm-adjusted
p-value, decide); every clause that interprets a result is chosen by those verbs, so a changed number
changes the sentence.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from cxr_lib.analysis.reader import CNN_ROW, FAMILY, LEARNED_FAMILY, ORIGINAL
from cxr_lib.analysis.verdict import direction, phrase
from cxr_lib.models.realesrgan import MODELS as REAL_ESRGAN_MODELS
from cxr_lib.models.upscale import UPSCALERS

#: The learned upscalers the verdict speaks of: the reader family's, in its order.
LEARNED_INPUTS = LEARNED_FAMILY
_THAN = {"higher": "higher than", "lower": "lower than", "no different": "no different from"}


def short_name(name: str) -> str:
    """A short name for a sentence: ``swin2sr-cxr``, ``Real-ESRGAN x4plus``, ``Lanczos``, ``nearest neighbour``."""
    named = {ORIGINAL: "the real original", CNN_ROW: "the 28×28 CNN", "lanczos": "Lanczos", "nearest": "nearest neighbour",
             "swin2sr-cxr": "swin2sr-cxr"}
    spec = UPSCALERS.get(name)
    if name in REAL_ESRGAN_MODELS:
        return REAL_ESRGAN_MODELS[name]["label"]
    return named.get(name) or (spec.label if spec is not None and spec.needs_model else name)


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def fidelity_line(paired: pd.DataFrame, size: int = 112, methods: Sequence[str] = LEARNED_INPUTS) -> str:
    """How close each learned upscaler's output is to the real image against Lanczos's, by PSNR at ``size``."""
    rows = paired[(paired["size"] == size) & paired["method"].isin(list(methods)) & ~paired["stand_in"].astype(bool)]
    rows = rows.set_index("method").reindex([m for m in methods if m in set(rows["method"])])
    verbs = ("closer to", "further from", "no closer to nor further from")
    parts = []
    for method, row in rows.iterrows():
        verb = direction(row["d_psnr_low"], row["d_psnr_high"], verbs=verbs)
        closer = int(round(row["closer_psnr"] * row["n"]))
        parts.append(f"{short_name(method)} is {verb} it than Lanczos "
                     f"({phrase(row['d_psnr'], row['d_psnr_low'], row['d_psnr_high'], 2, ' dB')}; closer on {closer} of {int(row['n'])} images)")
    if not parts:
        return ""
    return (f"**Closeness to the real image** (PSNR at {size}×{size}, per image against Lanczos, 95% CI; the real image is a "
            f"public copy of each original resized to {size}): " + "; ".join(parts) + ".")


def _row(comparisons: pd.DataFrame, a: str, b: str) -> pd.Series:
    match = comparisons[(comparisons["A"] == a) & (comparisons["B"] == b)]
    if match.empty:
        raise KeyError(f"the comparisons hold no row {b} − {a}")
    return match.iloc[0]


def _against(row: pd.Series, other: str) -> str:
    return (f"{_THAN[row['B against A']]} {other}'s {row['AUC A']:.3f} "
            f"({phrase(row['AUC B − A'], row['low'], row['high'], 4)}, Holm p {row['p (Holm)']:.2g})")


def reader_line(comparisons: pd.DataFrame, methods: Sequence[str] = LEARNED_INPUTS) -> str:
    """What each learned upscaler gives the reader over Lanczos and over nearest neighbour (AUC), and what that means."""
    methods = [m for m in methods if m in set(comparisons["B"])]
    over_lanczos = {m: _row(comparisons, "lanczos", m) for m in methods}
    over_nearest = {m: _row(comparisons, "nearest", m) for m in methods}
    parts = [f"with {short_name(m)} {over_lanczos[m]['AUC B']:.3f}, {_against(over_lanczos[m], 'Lanczos')} and "
             f"{_against(over_nearest[m], 'nearest neighbour')}" for m in methods]
    gaining = [m for m in methods if over_lanczos[m]["B against A"] == "higher"]
    beyond = [m for m in gaining if over_nearest[m]["B against A"] == "higher"]
    if not gaining:
        meaning = "no learned upscaler gives this reader more than Lanczos"
    elif not beyond:
        meaning = (f"what {_join([short_name(m) for m in gaining])} {'gives' if len(gaining) == 1 else 'give'} this reader "
                   "over Lanczos is not shown to exceed what nearest neighbour gets, which adds no information, only sharp "
                   "edges: a sharper input, not shown to be recovered anatomy")
    else:
        meaning = (f"{_join([short_name(m) for m in beyond])} {'gives' if len(beyond) == 1 else 'give'} this reader more "
                   "than sharpness alone (nearest neighbour) does")
    return ("**The reader trained on real X-rays** (AUC on the same test images, DeLong with patient clusters, Holm over the "
            f"family of {len(comparisons)} comparisons): " + "; ".join(parts) + f" — {meaning}.")


def bottleneck_line(comparisons: pd.DataFrame, inputs: Sequence[str] = FAMILY[1:]) -> str:
    """What each upscaled input costs the reader against the real original, and what the 28×28 CNN reads."""
    costs = {i: _row(comparisons, ORIGINAL, i) for i in inputs if ((comparisons["A"] == ORIGINAL) & (comparisons["B"] == i)).any()}
    base = next(iter(costs.values()))["AUC A"]
    groups: dict[str, list[str]] = {}
    for name, row in costs.items():
        groups.setdefault(row["B against A"], []).append(f"{short_name(name)} {phrase(row['AUC B − A'], row['low'], row['high'], 4)}")
    told = "; ".join(f"{_THAN[verb].split(' ')[0] if verb != 'no different' else 'no different'} for {len(items)} of "
                     f"{len(costs)} ({', '.join(items)})" for verb, items in sorted(groups.items(), key=lambda kv: kv[0] != "lower"))
    cnn = _row(comparisons, ORIGINAL, CNN_ROW)
    held = cnn["B against A"]
    if held == "lower":
        meaning = "the 28×28 images hold less for these models than the real originals"
    else:
        meaning = ("so what an upscaled input costs this reader is not shown to be information missing at 28×28; the likelier "
                   "cost is the reader meeting images unlike those it was trained on")
    return (f"**What 28×28 holds**: against the real original (AUC {base:.3f}), the reader's AUC on the upscaled inputs is "
            f"{told}; the 28×28 CNN, trained on the small images themselves, scores {cnn['AUC B']:.3f} on the same images, "
            f"{_THAN[held]} the reader on the originals ({phrase(cnn['AUC B − A'], cnn['low'], cnn['high'], 4)}) — {meaning}.")


def calibration_line(calibration: pd.DataFrame) -> str:
    """The calibration shift: each upscaled input's specificity at the real-image threshold against the original's."""
    real = calibration.loc[ORIGINAL, "specificity [95% CI]"]
    rows = calibration.drop(index=ORIGINAL)
    lower = [n for n in rows.index if rows.loc[n, "specificity, against the real original's"] == "lower"]
    other = [n for n in rows.index if n not in lower]
    said = (f"lower for {len(lower)} of {len(rows)} upscaled inputs" + (f" ({_join([short_name(n) for n in lower])})" if lower else "")
            + (f", not shown different for {_join([short_name(n) for n in other])}" if other else ""))
    meaning = ("upscaled normal X-rays look more like pneumonia to a model trained on real images: a threshold chosen on "
               "real images does not carry over to them, which is why each input is also called at a threshold chosen on "
               "its own val images" if lower else
               "a threshold chosen on real images is not shown to call upscaled normal X-rays differently")
    return (f"**Calibration, apart from discrimination**: at the threshold chosen on real val originals "
            f"({calibration.attrs.get('threshold', float('nan')):.3f}), specificity on the real originals is {real}; it is "
            f"{said} — {meaning}.")


def verdict_lines(paired: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """The three lines of the verdict: closeness, what the reader gains, what 28×28 holds."""
    return [line for line in (fidelity_line(paired), reader_line(comparisons), bottleneck_line(comparisons)) if line]
