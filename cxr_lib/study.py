"""The study's steps, one function per notebook section: CNN predictions, case sets, VLM runs.

The notebooks' one entry point: they call these and show what they return; the work itself is
done in the layers below (``data``, ``models``, ``analysis``). The few names a notebook needs from
there (``load_split``, ``load_hr_reference``, ``load_super_resolver``, ``open_vlm``, ``GenerationSettings``)
are imported here for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_lib.analysis import (
    cnn_eval,
    evaluate,
    fidelity,
    reader as reader_analysis,
    reference,
    resampling,
    review,
    runner,
    sr_verdict,
    verdict,
)
from cxr_lib.analysis.cnn_eval import benchmark_table, evaluate_frame
from cxr_lib.analysis.conditions import condition_images
from cxr_lib.analysis.evaluate import binary_metrics, proportion_ci
from cxr_lib.analysis.labels import highlight
from cxr_lib.analysis.runner import run_reports
from cxr_lib.data import datasets, patients
from cxr_lib.data.artifacts import committed
from cxr_lib.data.cases import CaseSet, load_case_set
from cxr_lib.data.datasets import (  # load_*: also for the notebooks
    REFERENCE_CASES,
    REFERENCE_REPORTS_FILE,
    Split,
    label_names,
    load_hr_reference,
    load_reference_reports,
    load_split,
)
from cxr_lib.data.predictions import read_predictions
from cxr_lib.errors import CxrError, DataError, DataNotFoundError, ParameterError
from cxr_lib.languages import check_languages, is_right_to_left
from cxr_lib.models.backends import open_vlm  # for the notebooks
from cxr_lib.models.cnn import read_threshold
from cxr_lib.models.endpoint import open_endpoint
from cxr_lib.models.hr_reader import load_reader
from cxr_lib.models.prompts import STRATEGIES, strategy_table
from cxr_lib.models.provenance import STAND_IN_LABEL, is_stand_in
from cxr_lib.models.realesrgan import REAL_ESRGAN, provenance as realesrgan_provenance
from cxr_lib.models.upscale import (  # load_super_resolver: for the notebooks
    CONDITIONS,
    METHODS,
    describe_conditions,
    load_super_resolver,
)
from cxr_lib.models.vlm import GenerationSettings  # for the notebooks
from cxr_lib.training.cnn import run_training

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.analysis.review import ReviewCutoff

DEFAULT_PREDICTIONS = committed("baseline/predictions_test.csv")
DEFAULT_VALIDATION = DEFAULT_PREDICTIONS.with_name("predictions_val.csv")
#: The CNN case sets that hold its errors; with its correct sample they are the enriched sets.
ERROR_SETS = ("cnn-errors", "cnn-false-positives", "cnn-false-negatives")
#: Every test case the review sends to the VLM (needs the review cut-off).
REVIEW_SET = "cnn-review"
#: The committed fidelity tables the front page's verdict reads.
VERDICT_FIDELITY = ("fidelity_swin2sr_cxr", "fidelity_realesrgan")

#: The notebooks' parameters that name registry entries, and the names each may take (read at each check).
REGISTERED_PARAMETERS: dict[str, Sequence[str]] = {
    "conditions": CONDITIONS, "upscaler": CONDITIONS, "reader_inputs": CONDITIONS,
    "fidelity_methods": METHODS, "fidelity_committed_methods": METHODS, "figure_methods": METHODS,
    "prompt_strategy": STRATEGIES, "strategies": STRATEGIES,
}
#: Parameters that name answer languages, by code or name (checked by :func:`cxr_lib.languages.check_languages`).
LANGUAGE_PARAMETERS = ("language", "languages")


def check_registered_parameters(parameters: Mapping[str, Any], where: str = "notebook") -> None:
    """:class:`ParameterError` when a notebook parameter names an upscaler, prompt strategy or language
    the registries lack.

    A value of another type is left to the type check (:func:`cxr_lib.tooling.book.check_parameters`).
    """
    for name, value in parameters.items():
        if name in LANGUAGE_PARAMETERS and value is not None:
            try:
                check_languages([value] if isinstance(value, str) else value)
            except CxrError as exc:
                raise ParameterError(f"{where}: parameter {name!r}: {exc}") from exc
            continue
        allowed = REGISTERED_PARAMETERS.get(name)
        values = [value] if isinstance(value, str) else value
        if allowed is None or not isinstance(values, list):
            continue
        unknown = [item for item in values if item not in allowed]
        if unknown:
            raise ParameterError(f"{where}: parameter {name!r} names {unknown[0]!r}, which is not registered: "
                                 f"choose from {', '.join(allowed)}")


def cnn_predictions(
    predictions_csv: str | os.PathLike | None = DEFAULT_PREDICTIONS,
    checkpoint: str | os.PathLike | None = None,
    train_preset: str | None = None,
    results_dir: str | os.PathLike = "results",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The CNN's test predictions: trained now (``train_preset``), predicted from a checkpoint,
    or read from a predictions CSV, in that order of preference."""

    if train_preset:
        _, _, test = run_training(train_preset, Path(results_dir) / "baseline", seed, data_dir=data_dir)
        return read_predictions(test.predictions_path, "test", data_dir)
    if checkpoint:
        run = cnn_eval.run_prediction(checkpoint, "test", Path(results_dir) / "baseline" / "predictions_test.csv", data_dir)
        return read_predictions(run.predictions_path, "test", data_dir)
    if predictions_csv is None:
        raise ParameterError("no CNN source: set cnn_predictions, cnn_checkpoint or train_cnn_preset")
    return read_predictions(predictions_csv, "test", data_dir)


def review_cutoff(
    validation_csv: str | os.PathLike | None = DEFAULT_VALIDATION,
    checkpoint: str | os.PathLike | None = None,
    train_preset: str | None = None,
    results_dir: str | os.PathLike = "results",
    data_dir: str | os.PathLike | None = None,
    capture: float = review.ERROR_CAPTURE,
) -> "ReviewCutoff":
    """The review cut-off, chosen on the validation predictions of the same CNN run as
    :func:`cnn_predictions` (trained now, a checkpoint, or a predictions CSV with ``checkpoint.json``
    beside it), on the validation images whose child has no train image (see
    :mod:`cxr_lib.analysis.review`)."""

    path, threshold = validation_source(validation_csv, checkpoint, train_preset, results_dir, data_dir)
    indices, selection = independent_selection(data_dir)
    return review.choose_cutoff(path, threshold, capture, data_dir, indices, selection)


def validation_source(
    validation_csv: str | os.PathLike | None = DEFAULT_VALIDATION,
    checkpoint: str | os.PathLike | None = None,
    train_preset: str | None = None,
    results_dir: str | os.PathLike = "results",
    data_dir: str | os.PathLike | None = None,
) -> tuple[Path, float]:
    """The CNN's validation predictions file and its threshold, from the same run as :func:`cnn_predictions`."""
    if train_preset:
        folder = Path(results_dir) / "baseline"
        return folder / "predictions_val.csv", read_threshold(folder)
    if checkpoint:
        run = cnn_eval.run_prediction(checkpoint, "val", Path(results_dir) / "baseline" / "predictions_val.csv",
                                      data_dir, case_sets=False)
        return Path(run.predictions_path), run.threshold
    if validation_csv is None:
        raise ParameterError("no validation predictions: set cnn_validation, cnn_checkpoint or train_cnn_preset")
    return Path(validation_csv), read_threshold(Path(validation_csv).parent)


def independent_selection(data_dir: str | os.PathLike | None = None) -> tuple[tuple[int, ...] | None, str]:
    """The val images whose child has no train image, and a sentence saying so; ``None`` (every val image)
    with a sentence saying why, where the data folder lacks the file names that identify children."""
    try:
        independent = patients.independent_val(data_dir)
    except DataNotFoundError:
        return None, (f"every validation image: the data folder has no {datasets.HR_PAIRS_FILE}, whose file names "
                      "identify the children, so the amended rule (val images independent of train) could not be applied")
    return independent.indices, independent.describe()


def review_shares(
    predictions: pd.DataFrame,
    validation_csv: str | os.PathLike | None = DEFAULT_VALIDATION,
    checkpoint: str | os.PathLike | None = None,
    train_preset: str | None = None,
    results_dir: str | os.PathLike = "results",
    data_dir: str | os.PathLike | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pre-specified sensitivity analysis of the review: the cut-off and the test cases reviewed at
    75%, 80% and 90% of the validation errors, on the independent val images (the amended rule) and on every
    val image (the rule before it); and the size of the review set at 80% with its 95% interval over val
    sets resampled by child — what the smaller validation set costs in precision."""
    path, threshold = validation_source(validation_csv, checkpoint, train_preset, results_dir, data_dir)
    indices, _ = independent_selection(data_dir)
    selections = {"every val image (before the amendment)": None}
    if indices is not None:
        selections = {"val images independent of train (amended)": indices, **selections}
    shares = review.share_table(path, threshold, predictions["prob_pneumonia"], selections, data_dir=data_dir)
    val_children = patients.split_patients("val", data_dir) if indices is not None else pd.Series(dtype=object)
    rows = {}
    for name, chosen in selections.items():
        frame = review.validation_frame(path, threshold, chosen, data_dir)
        size = review.review_size_interval(frame, patients.groups(frame["index"], val_children), threshold,
                                           predictions["prob_pneumonia"])
        rows[name] = {"validation images": len(frame), "validation errors": int(frame["error"].sum()),
                      f"test cases reviewed at {review.ERROR_CAPTURE:.0%} [95% interval, val children resampled]":
                          f"{size.value:.0f} [{size.low:.0f}, {size.high:.0f}]"}
    return shares, pd.DataFrame(rows).T


def select_cases(
    names: Sequence[str],
    test: Split,
    predictions: pd.DataFrame | None,
    predictions_csv: str | os.PathLike | None = None,
    max_per_set: int | None = None,
    correct_sample_size: int = 100,
    seed: int = 0,
    review: "ReviewCutoff | None" = None,
) -> dict[str, CaseSet]:
    """The named case sets, each capped at ``max_per_set`` cases (a seeded, ordered choice).

    ``cnn-review`` is every test case the review sends to the VLM (it needs ``review``, the cut-off);
    every other name is :func:`cxr_lib.data.cases.load_case_set`'s, the ``cnn-*`` sets drawn from
    ``predictions`` (else from ``predictions_csv``).
    """
    chosen: dict[str, CaseSet] = {}
    for name in names:
        if name == REVIEW_SET:
            if predictions is None or review is None:
                raise ParameterError(f"case set {name!r} needs the CNN's predictions and the review cut-off")
            rows = predictions[review.reviewed(predictions["prob_pneumonia"])]
            cases = CaseSet(name, tuple(int(i) for i in rows["index"]),
                            f"every test image the review sends to MedGemma (CNN margin ≤ {review.margin:.2f} "
                            "from its threshold; cut-off chosen on validation)")
        else:
            cnn = predictions if predictions is not None else predictions_csv
            cases = load_case_set(name, labels=test.labels, predictions=cnn, n=correct_sample_size, seed=seed)
        chosen[name] = cap(cases, max_per_set, seed)
    return chosen


def cap(cases: CaseSet, limit: int | None, seed: int = 0) -> CaseSet:
    """At most ``limit`` cases of a set, chosen with a seed and kept in index order."""
    if limit is None or len(cases) <= limit:
        return cases
    rng = np.random.default_rng(seed)
    kept = sorted(rng.choice(np.array(cases.indices), size=limit, replace=False).tolist())
    return CaseSet(cases.name, tuple(int(i) for i in kept), f"{cases.description} ({limit} of {len(cases)}, seed {seed})")


def cases_table(case_sets: Mapping[str, CaseSet], test: Split) -> pd.DataFrame:
    """One row per case set: size, class counts and how it was chosen."""
    rows = []
    for name, cases in case_sets.items():
        labels = test.labels[list(cases.indices)] if len(cases) else np.array([], dtype=int)
        rows.append({"case set": name, "cases": len(cases), "normal": int((labels == 0).sum()),
                     "pneumonia": int((labels == 1).sum()), "how chosen": cases.description})
    return pd.DataFrame(rows).set_index("case set")


def all_indices(case_sets: Mapping[str, CaseSet]) -> list[int]:
    """Every index in any of the case sets, once, in order."""
    return sorted({i for cases in case_sets.values() for i in cases.indices})


def case_images(
    test: Split, indices: Sequence[int], condition: str, *, hr: Any = None, sr_model: Any = None
) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """The 224×224 RGB images the VLM sees under ``condition``, and the true labels, by test index."""
    keys = [int(i) for i in indices]
    images = condition_images(test, keys, condition, 224, hr=hr, sr_model=sr_model, rgb=True)
    return dict(zip(keys, images)), {i: test.label(i) for i in keys}


def run_condition(
    vlm: Any,
    test: Split,
    indices: Sequence[int],
    condition: str,
    *,
    settings: Any,
    results_dir: str | os.PathLike,
    strategy: str = "structured",
    language: str = "en",
    hr: Any = None,
    sr_model: Any = None,
    score: bool = True,
) -> pd.DataFrame:
    """Show the VLM each case under one condition (an upscaler or ``hr``); one row per case."""

    if condition == "hr":
        indices = hr.available(indices)
    images, truths = case_images(test, indices, condition, hr=hr, sr_model=sr_model)
    return run_reports(
        vlm, images, truths, condition=condition, strategy=strategy,
        language=language, settings=settings, results_dir=results_dir, score=score,
    )


def run_conditions(vlm: Any, test: Split, indices: Sequence[int], conditions: Sequence[str], **options: Any) -> pd.DataFrame:
    """:func:`run_condition` for each condition in turn (same cases, same options); one table."""
    return pd.concat([run_condition(vlm, test, indices, condition, **options) for condition in conditions],
                     ignore_index=True)


def label_case_sets(frame: pd.DataFrame, case_sets: Mapping[str, CaseSet]) -> pd.DataFrame:
    """One row per (record, case set it belongs to), with a ``case_set`` column."""
    parts = [frame[frame["index"].isin(cases.indices)].assign(case_set=name) for name, cases in case_sets.items()]
    return pd.concat(parts, ignore_index=True) if parts else frame.assign(case_set=[])


def report_excerpts(frame: pd.DataFrame, limit: int = 6, width: int = 400) -> pd.DataFrame:
    """A few reports with their reading, the evidence sentence and the stop reason."""
    columns = [c for c in ("index", "condition", "truth", "label", "evidence", "rule", "stop_reason", "p_pneumonia") if c in frame]
    shown = frame.head(limit)[columns].copy()
    shown["report (start)"] = frame.head(limit)["text"].str.slice(0, width)
    return shown.set_index("index")


def model_banner(model: str | os.PathLike | None, endpoint: str | None = None) -> str:
    """Markdown naming the model, with the stand-in warning when it is one. With ``endpoint`` the
    server is asked what it serves under that name (``cxr serve`` says when it is a stand-in)."""
    if endpoint:
        served = open_endpoint(endpoint, None if model is None else str(model))
        where = f"served by `{endpoint}`"
        if served.is_stand_in:
            return f"**⚠ {STAND_IN_LABEL}.** Model `{served.model_id}` {where}. The numbers below test the pipeline only."
        return f"Model: `{served.model_id}` {where}."
    if is_stand_in(model):
        return f"**⚠ {STAND_IN_LABEL}.** Model folder: `{Path(model).name}`. The numbers below test the pipeline only."
    return f"Model: `{model}`."


def stand_in_note(frame: pd.DataFrame, max_cases_per_set: int | None = None) -> str:
    """Markdown: how many cases and reports a stand-in VLM made in ``frame`` (records of one run), and why
    so few; empty for a real model. ``max_cases_per_set`` is the cap the case sets were drawn with."""
    if frame.empty or not frame["stand_in"].astype(bool).any():
        return ""

    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'s' * (n != 1)}"

    cases = count(frame["index"].nunique(), "case")
    made = (f"{count(len(frame), 'report')} on {cases}, under {count(frame['condition'].nunique(), 'image condition')} "
            f"and {count(frame.groupby(['prompt_strategy', 'language']).ngroups, 'prompt')}")
    why = ("so this run shows it only the cases its parameters name" if max_cases_per_set is None else
           f"so this run caps each case set at {count(max_cases_per_set, 'case')} (`max_cases_per_set`)")
    return (f"**The stand-in saw {cases} here** ({made}). Its reports are meaningless by design, {why}: enough for "
            "every step and every table to run, not enough for any of its numbers to mean anything. The full "
            "profile (`make book`) asks the real model.")


def earlier_analysis(data_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, str]:
    """The earlier analysis's reports read by both parsers (:func:`cxr_lib.analysis.reference.read_reports`) and
    a Markdown note; an empty table and a note saying which file is missing when it is not in the data folder."""

    try:
        read = reference.read_reports(load_reference_reports(data_dir))
    except DataNotFoundError:
        empty = pd.DataFrame(columns=["condition", "index", "truth", "reference_parser_label", "text", "label",
                                      "evidence", "rule", "stop_reason", "outcome", "parser_outcome"])
        return empty, (f"**`{REFERENCE_REPORTS_FILE}` is not in the data folder** (set `$CXR_DATA_DIR` to a folder "
                       "holding it): the tables below are empty.")
    cut = int((read["stop_reason"] == "max_new_tokens").sum())
    return read, (f"{len(read)} reports of the earlier analysis ({', '.join(read['condition'].unique())}); "
                  f"{cut} stop mid-sentence (cut off by its 150-token budget).")


def cnn_operating_points(predictions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The CNN's test accuracy, sensitivity and specificity at its validation threshold and at 0.5
    (MedMNIST v2's benchmark calls the larger softmax output, i.e. 0.5)."""

    rows = {}
    for name, cut in ((f"validation threshold ({threshold:.3f})", threshold), ("0.5, as MedMNIST v2", 0.5)):
        metrics = binary_metrics(predictions["label"], (predictions["prob_pneumonia"] >= cut).astype(int))
        rows[name] = {metric: str(estimate) for metric, estimate in metrics.items()}
    return pd.DataFrame(rows).T


def case_set_notes(case_sets: Mapping[str, CaseSet], within: Sequence[int] | None = None, small: int = 30) -> str:
    """Markdown: the case sets under ``small`` cases (counting only those ``within`` the given indices,
    when given), and how wide a proportion's 95% interval can be on each."""

    def widest(n: int) -> float:
        return max((proportion_ci(k, n).high - proportion_ci(k, n).low) / 2 for k in range(n + 1))

    keep = None if within is None else {int(i) for i in within}
    sizes = {name: len(cases) if keep is None else len(keep.intersection(cases.indices)) for name, cases in case_sets.items()}
    sized = {name: n for name, n in sizes.items() if 0 < n < small}
    if not sized:
        return f"Every case set has at least {small} cases."
    parts = [f"`{name}` has **{n} cases** (a proportion's 95% interval up to ±{100 * widest(n):.0f} points)"
             for name, n in sorted(sized.items(), key=lambda item: item[1])]
    return "Small sets: " + "; ".join(parts) + ". Read their rows for direction, not size."


def primary_review(
    predictions: pd.DataFrame, readings: pd.DataFrame, cutoff: "ReviewCutoff", case_sets: Mapping[str, CaseSet],
) -> pd.DataFrame:
    """The primary analysis: the CNN alone against CNN + review (:mod:`cxr_lib.analysis.review`).

    On the whole test split when MedGemma read every case the review sends to it (``cnn-review`` or
    ``test`` among the case sets); otherwise projected from the CNN's error sets and its correct
    sample, and labelled so; with neither, a one-cell table saying what to add. One column as read, and
    one each with every uncertain reading taken as pneumonia or as normal (the bounds).
    """

    variants = {"as read": None, "uncertain → pneumonia": "pneumonia", "uncertain → normal": "normal"}
    decisions = {name: review.review(predictions, readings, cutoff, how) for name, how in variants.items()}
    unread = int((decisions["as read"]["reviewed"] & decisions["as read"]["vlm"].isna()).sum())
    if not unread:
        scope = f"the whole test split: {len(predictions)} cases, every reviewed case read (nothing projected)"
        columns = {name: review.net_change(d) for name, d in decisions.items()}
    else:
        errors = {i for n in ERROR_SETS if n in case_sets for i in case_sets[n].indices}
        correct = case_sets.get("cnn-correct-sample")
        if not errors or correct is None:
            return pd.DataFrame({"as read": [f"NOT COMPUTED: {unread} case(s) the review sends to MedGemma were not "
                                             f"run; add {REVIEW_SET!r} (or 'test') to case_sets, or the CNN's error "
                                             "sets and its correct sample"]}, index=["scope"])
        wrong = predictions["pred"] != predictions["label"]
        scope = (f"PROJECTED onto the test split from enriched case sets ({len(errors)} CNN errors, "
                 f"{len(correct)} sampled correct calls); {unread} reviewed cases were not run")
        columns = {name: review.projected_net_change(
            d[d["index"].isin(errors)], d[d["index"].isin(correct.indices)], int(wrong.sum()), int((~wrong).sum()))
            for name, d in decisions.items()}
    table = pd.DataFrame(columns)
    return pd.concat([pd.DataFrame({name: [scope] for name in columns}, index=["scope"]), table])


def review_by_case_set(
    predictions: pd.DataFrame, readings: pd.DataFrame, cutoff: "ReviewCutoff", case_sets: Mapping[str, CaseSet],
) -> pd.DataFrame:
    """The review on each case set on its own (exploratory): the same columns as the primary analysis."""

    decisions = review.review(predictions, readings, cutoff)
    rows = {name: review.net_change(decisions[decisions["index"].isin(cases.indices)])
            for name, cases in case_sets.items() if name != REVIEW_SET}
    return pd.DataFrame(rows).T


def case_set_weights(predictions: pd.DataFrame, case_sets: Mapping[str, CaseSet], population: Sequence[int]) -> pd.DataFrame:
    """Each disjoint CNN case set's share of ``population`` (test indices, e.g. those with a real image):
    false positives, false negatives (or all errors) and correct calls. These weights turn per-set
    results back into estimates for the population; the reference set and ``cnn-review`` get none."""
    frame = predictions[predictions["index"].isin(list(population))]
    wrong, label = frame["pred"] != frame["label"], frame["label"]
    split = ({"cnn-false-positives": wrong & (label == 0), "cnn-false-negatives": wrong & (label == 1)}
             if {"cnn-false-positives", "cnn-false-negatives"} <= set(case_sets) else {"cnn-errors": wrong})
    strata = {**split, "cnn-correct-sample": ~wrong}
    rows = {}
    for name, members in strata.items():
        if name not in case_sets:
            raise ParameterError(f"weighting needs the case set {name!r}: add it to case_sets")
        run = set(case_sets[name].indices) & set(frame["index"])
        rows[name] = {"in the population": int(members.sum()), "weight": float(members.mean()), "cases run": len(run)}
    return pd.DataFrame(rows).T.astype({"in the population": int, "cases run": int})


def hr_availability(predictions: pd.DataFrame, hr: Any) -> pd.DataFrame:
    """Per class: how many test images have a real high-resolution image, and the CNN's error rate
    with and without one (Wilson CIs; Fisher's exact test of the difference)."""
    from scipy.stats import fisher_exact


    has = predictions["index"].map(hr.has).astype(bool)
    wrong = predictions["pred"] != predictions["label"]
    rows = {}
    for code, name in label_names().items():
        cls = predictions["label"] == code
        a, b = wrong[cls & has], wrong[cls & ~has]
        table = [[int(a.sum()), int((~a).sum())], [int(b.sum()), int((~b).sum())]]
        rows[name] = {
            "images": int(cls.sum()), "with a real image": int((cls & has).sum()),
            "CNN error rate, with a real image": str(proportion_ci(int(a.sum()), len(a))),
            "CNN error rate, without one": str(proportion_ci(int(b.sum()), len(b))),
            "Fisher exact p": round(float(fisher_exact(table)[1]), 4) if len(a) and len(b) else float("nan"),
        }
    return pd.DataFrame(rows).T


def run_prompt_grid(
    vlm: Any, test: Split, indices: Sequence[int], strategies: Sequence[str] | None, languages: Sequence[str] | None, *,
    settings: Any, results_dir: str | os.PathLike, condition: str = "lanczos",
) -> pd.DataFrame:
    """Every prompt strategy × language on a few cases (one upscaler); one row per report.
    ``strategies``: ``None`` for every registered one; ``languages``: codes or names, ``None`` for every
    registered language (:mod:`cxr_lib.languages`)."""

    codes = check_languages(languages)
    images, truths = case_images(test, indices, condition)
    strategies = list(STRATEGIES) if strategies is None else strategies
    return runner.run_prompt_grid(vlm, images, truths, strategies=strategies, languages=codes, condition=condition,
                                  settings=settings, results_dir=results_dir)


def report_html(text: str, language: str, evidence: str = "") -> str:
    """A report as HTML, right to left for a language written so, with the evidence sentence highlighted
    (found as the app finds it: :func:`cxr_lib.analysis.labels.highlight`)."""
    import html


    body = "".join(f"<mark>{html.escape(part)}</mark>" if tag else html.escape(part)
                   for part, tag in highlight(text, evidence, "evidence"))
    direction = "rtl" if is_right_to_left(language) else "ltr"
    return f'<div dir="{direction}" lang="{language}" style="white-space: pre-wrap; border-left: 3px solid #999; padding-left: 8px">{body}</div>'


# --------------------------------------------------------------------------- prompting (notebook 3)


def prompt_strategies() -> pd.DataFrame:
    """The prompt strategies, indexed by name: what each is for and its English prompt."""

    return pd.DataFrame(strategy_table(), columns=["strategy", "purpose", "prompt (English)"]).set_index("strategy")


def prompt_grid_labels(grid: pd.DataFrame) -> pd.DataFrame:
    """The label read from each report of a prompt grid: case and strategy down, language across."""
    return grid.pivot_table(index=["index", "truth", "prompt_strategy"], columns="language", values="label", aggfunc="first")


def prompt_strategy_summary(grid: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, the share of reports read as a clear label and the share cut off by the token budget."""
    flags = grid.assign(clear=grid["label"] != "uncertain", cut_off=grid["stop_reason"] == "max_new_tokens")
    return flags.groupby("prompt_strategy")[["clear", "cut_off"]].mean().round(2)


def example_report(grid: pd.DataFrame, language: str = "ar", strategy: str = "structured") -> tuple[str, str]:
    """One report of a prompt grid as HTML (right to left for Arabic, its evidence marked) and its reading
    as Markdown. Raises :class:`ParameterError` when the grid has no report in that language and strategy."""

    rows = grid[(grid["language"] == language) & (grid["prompt_strategy"] == strategy)]
    if rows.empty:
        raise ParameterError(f"the prompt grid has no {strategy!r} report in {language!r}: "
                             "add that language and strategy to the notebook's parameters")
    row = rows.iloc[0]
    reading = (f"Reading: **{row['label']}** (rule: `{row['rule']}`), "
               f"truth: **{label_names()[int(row['truth'])]}**.")
    return report_html(row["text"], language, row["evidence"]), reading


# --------------------------------------------------------------------------- data, CNN and readings (notebooks 1 and 2)


def fetch_data(data_dir: str | os.PathLike | None = None, download: bool | None = None,
               hr_reference: bool = False) -> None:
    """Every notebook's first step: download with medmnist what the run needs and cannot find, when the
    ``download`` parameter allows it (None: in Colab only); one line per file fetched
    (:func:`cxr_lib.data.datasets.fetch_missing`)."""

    for path in datasets.fetch_missing(data_dir, download, hr_reference):
        print(f"downloaded {datasets.display_path(path)} with medmnist")


def data_summary(data_dir: str | os.PathLike | None = None) -> str:
    """Markdown: each split, where it was read from, and the high-resolution reference."""

    return "\n".join(f"- {line}" for line in datasets.data_summary(data_dir))


def cnn_benchmark(predictions: pd.DataFrame) -> pd.DataFrame:
    """The CNN's test AUC and accuracy (95% CIs) beside the MedMNIST v2 benchmark rows."""

    return benchmark_table(evaluate_frame(predictions)).round(3)


def condition_summary(frame: pd.DataFrame, case_sets: Mapping[str, CaseSet],
                      by: Sequence[str] = ("case_set",)) -> pd.DataFrame:
    """Per case set (and ``by``): clear calls, abstentions, cut-off reports, accuracy, sensitivity, specificity, AUC."""

    return evaluate.condition_summary(label_case_sets(frame, case_sets), by=list(by))


def uncertain_bounds(frame: pd.DataFrame, case_sets: Mapping[str, CaseSet],
                     by: Sequence[str] = ("case_set",)) -> pd.DataFrame:
    """Per case set (and ``by``): the metrics as read, and with every *uncertain* reading taken as pneumonia or normal."""

    return evaluate.uncertain_bounds(label_case_sets(frame, case_sets), by=list(by))


def run_reference_cases(vlm: Any, test: Split, *, settings: Any, results_dir: str | os.PathLike,
                        conditions: Sequence[str] = ("lanczos",), sr_model: Any = None) -> pd.DataFrame:
    """This project's reports on the earlier analysis's ten cases, with its prompt (``reference``), in English."""

    return run_conditions(vlm, test, REFERENCE_CASES, conditions, settings=settings, results_dir=results_dir,
                          strategy="reference", language="en", sr_model=sr_model, score=False)


# --------------------------------------------------------------------------- super-resolution (notebook 2)


def models_banner(vlm_model: str | os.PathLike | None, sr_model: str | os.PathLike, methods: Sequence[str],
                  endpoint: str | None = None) -> str:
    """Markdown: the VLM, the Swin2SR (stand-ins said), and where the Real-ESRGAN weights among ``methods`` come from."""
    used = [name for name in REAL_ESRGAN if name in set(methods)]
    return "  \n".join([model_banner(vlm_model, endpoint=endpoint), model_banner(sr_model), realesrgan_provenance(used)])


def conditions_table(conditions: Sequence[str], sr_model: Any = None) -> pd.DataFrame:
    """One row per image condition: how it is shown, what makes it, and its weights."""
    return pd.DataFrame(describe_conditions(conditions, sr_model)).set_index("condition")


@dataclass
class FidelityStep:
    """PSNR and SSIM of each upscaler against the real image, per image, with their summaries."""

    scores: pd.DataFrame  # one row per image, method and size
    sources: str  # Markdown: what was computed now and what was read from a committed file
    summary: pd.DataFrame  # means with 95% CIs per method and size
    paired: pd.DataFrame  # per-image differences against Lanczos, with 95% CIs

    def table(self) -> pd.DataFrame:
        """The summary for display."""
        return fidelity.summary_frame(self.summary).set_index(["method", "size"])

    def paired_table(self) -> pd.DataFrame:
        """The paired differences for display."""
        return fidelity.paired_frame(self.paired).set_index(["method − lanczos", "size"])

    def findings(self, size: int | None = None) -> str:
        """Markdown bullets: each learned upscaler against Lanczos (at ``size``; default the final size)."""
        return fidelity.paired_findings(self.paired) if size is None else fidelity.paired_findings(self.paired, size=size)


def fidelity_step(test: Split, hr: Any, methods: Sequence[str], committed_file: str | None,
                  committed_methods: Sequence[str], *, limit: int | None = None, sr_model: Any = None,
                  spot_check: int = 2) -> FidelityStep:
    """Score ``methods`` now and read ``committed_methods`` from ``committed_file`` (checked, ``spot_check``
    images redone), on the first ``limit`` test images with a real original (all for ``None``)."""
    scores, sources = fidelity.combined_scores(test, hr, methods, committed_file, committed_methods,
                                               indices=hr.available()[:limit], sr_model=sr_model, spot_check=spot_check)
    return FidelityStep(scores, sources, fidelity.summarise_fidelity(scores), fidelity.paired_differences(scores))


@dataclass
class ReaderStep:
    """The high-resolution reader shown each input on the same test images, beside the 28×28 CNN: the
    family of inputs and comparisons fixed in :mod:`cxr_lib.analysis.reader`, with patient-grouped intervals."""

    reader: Any  # cxr_lib.models.hr_reader.Reader
    frame: pd.DataFrame  # test predictions: one row per input and image (the CNN's as the row ``cnn-28``)
    val: pd.DataFrame  # the same on the val images with a real original
    sources: str  # Markdown: what was predicted now and what was read from a committed file
    independent: Any  # cxr_lib.data.patients.IndependentVal: the val images that choose the thresholds
    thresholds: pd.Series  # input → threshold chosen on its own independent val images
    draws: Any  # cxr_lib.analysis.reader.Resamples: the patient-grouped bootstrap draws
    family: pd.DataFrame  # per input: AUC, sensitivity at fixed specificity, own-threshold calls
    comparisons: pd.DataFrame  # the family's pairs: DeLong with patient clusters, Holm
    calibration: pd.DataFrame  # every input at the real-image threshold
    outside: pd.DataFrame  # real inputs outside the family (exploratory), same columns as ``family``
    stand_ins: pd.DataFrame  # inputs made by a stand-in: pipeline check only

    def description(self) -> str:
        """Markdown: the reader, how it was trained, where its predictions come from, which val images choose thresholds."""
        test_children = self.draws.children
        return (self.reader.describe_markdown() + "\n\n" + self.sources + "\n\n"
                f"Thresholds are chosen on {self.independent.describe()}. The {len(self.draws.labels)} test images come "
                f"from {test_children} children (or images whose child is unknown); intervals resample children.")

    def comparisons_table(self) -> pd.DataFrame:
        """The family's comparisons for display."""
        shown = self.comparisons.assign(**{"A": self.comparisons["A"].map(reader_analysis.input_label),
                                           "B": self.comparisons["B"].map(reader_analysis.input_label)})
        return shown.drop(columns=["low", "high"]).round({"AUC A": 4, "AUC B": 4, "AUC B − A": 4, "p": 4, "p (Holm)": 4})

    def others(self) -> pd.DataFrame:
        """The inputs outside the family: real ones (exploratory) and stand-ins (pipeline check), labelled;
        one row saying there are none where there are none."""
        parts = [table.assign(provenance=label) for table, label in
                 ((self.outside, "real weights, outside the family (exploratory)"),
                  (self.stand_ins, f"STAND-IN: {STAND_IN_LABEL}")) if len(table)]
        if not parts:
            return pd.DataFrame({"": ["none: every input shown is in the family"]}, index=["other inputs"])
        return pd.concat(parts)

    def figure_frame(self) -> pd.DataFrame:
        """The family's predictions with the calls at the threshold chosen on the real val originals."""
        family = self.frame[self.frame["input"].isin([*reader_analysis.FAMILY, reader_analysis.CNN_ROW])]
        return reader_analysis.at_threshold(family, float(self.thresholds[reader_analysis.ORIGINAL]))

    def verdict(self, fidelity_paired: pd.DataFrame) -> str:
        """Markdown bullets: the three verdict lines and the calibration finding, from the tables."""
        lines = [*sr_verdict.verdict_lines(fidelity_paired, self.comparisons), sr_verdict.calibration_line(self.calibration)]
        return "\n".join(f"- {line}" for line in lines) + "\n"


def reader_step(checkpoint: str | os.PathLike, test: Split, hr: Any, inputs: Sequence[str], committed_file: str | None,
                cnn: pd.DataFrame, *, cnn_validation: str | os.PathLike = DEFAULT_VALIDATION, sr_model: Any = None,
                spot_check: int = 2, data_dir: str | os.PathLike | None = None,
                n_resamples: int = evaluate.BOOTSTRAP_SAMPLES) -> ReaderStep:
    """Load the reader; predict ``inputs`` now, on the test images with a real original and on the val
    originals, and read every other input of the family from ``committed_file`` and the
    ``predictions_val.csv`` beside it (checked); add the CNN (``cnn``, ``cnn_validation``) on the same
    images; choose each input's threshold on the val images independent of train; and compare."""
    reader = load_reader(checkpoint)
    val_split, val_originals = load_split("val", data_dir=data_dir), reader_analysis.load_originals("val", data_dir)
    committed_val = None if committed_file is None else Path(committed_file).with_name("predictions_val.csv")
    frame, on_test = reader_analysis.combined_predictions(reader, test, hr, inputs, committed_file, spot_check, sr_model)
    val, on_val = reader_analysis.combined_predictions(reader, val_split, val_originals, inputs, committed_val, spot_check,
                                                       sr_model)
    frame = reader_analysis.with_cnn(frame, cnn)
    val = reader_analysis.with_cnn(val, read_predictions(cnn_validation, "val", data_dir))
    independent = patients.independent_val(data_dir)
    thresholds = reader_analysis.val_thresholds(val, independent.indices)
    family, outside, faked = reader_analysis.split_by_provenance(frame)
    cases = sorted(set(frame["index"]))
    draws = reader_analysis.Resamples.of(frame, dict(zip(cases, patients.groups(cases, patients.split_patients("test", data_dir)))),
                                         n_resamples)
    return ReaderStep(
        reader, frame, val, on_test + " " + on_val, independent, thresholds, draws,
        reader_analysis.family_table(draws, thresholds), reader_analysis.family_comparisons(draws),
        reader_analysis.calibration_table(draws, thresholds), _rows_of(outside, draws, thresholds),
        _rows_of(faked, draws, thresholds))


def _rows_of(part: pd.DataFrame, draws: Any, thresholds: pd.Series) -> pd.DataFrame:
    """The per-input table for the inputs of ``part`` (empty when there are none)."""
    names = list(dict.fromkeys(part["input"]))
    return reader_analysis.family_table(draws, thresholds, names) if names else pd.DataFrame()


def book_numbers(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The numbers the book's Markdown pages state, computed from the committed artifacts and the data's file
    names when the book is built (MyST substitutions: ``{{ name }}`` in a page): the super-resolution verdict,
    the children behind the images, what the train/val overlap did to the earlier numbers, and the review
    cut-off before and after the amendment with its sensitivity analysis."""
    predictions = cnn_predictions(data_dir=data_dir)
    threshold = read_threshold(DEFAULT_VALIDATION.parent)
    independent = patients.independent_val(data_dir)
    before, after = (review_cutoff_on(None, data_dir), review_cutoff_on(independent.indices, data_dir))
    shares, precision = review_shares(predictions, data_dir=data_dir)
    test_children = patients.split_patients("test", data_dir)
    hr_test = read_predictions(DEFAULT_PREDICTIONS, "test", data_dir)
    labels = hr_test.set_index("index")["label"]
    pneumonia = test_children[labels.loc[test_children.index].to_numpy() == 1]
    reader_val = pd.read_csv(committed("hr_reader/predictions_val.csv"))
    reader_test = pd.read_csv(committed("hr_reader/predictions_test.csv"))
    real_val = reader_val[reader_val["input"] == reader_analysis.ORIGINAL]
    kept = real_val[real_val["index"].isin(independent.indices)]
    real_test = reader_test[reader_test["input"] == reader_analysis.ORIGINAL]
    cnn_val = read_predictions(DEFAULT_VALIDATION, "val", data_dir)
    reader_record = float(json.loads(committed("hr_reader/reader.json").read_text())["threshold"])
    thresholds = reader_analysis.val_thresholds(reader_val, independent.indices)
    reviewed = {name: int(cut.reviewed(predictions["prob_pneumonia"]).sum()) for name, cut in (("before", before), ("after", after))}
    try:
        earlier = reference.brief(reference.read_reports(load_reference_reports(data_dir)))
    except DataNotFoundError:
        earlier = f"its reports ({REFERENCE_REPORTS_FILE}) are not in the data folder, so nothing is recomputed here."
    numbers = {
        "sr_verdict": committed_verdict(data_dir), "earlier_brief": earlier,
        "amendment_date": review.AMENDMENT_DATE,
        "val_images": str(independent.val_images), "val_independent": str(len(independent)),
        "val_shared_images": str(independent.shared), "val_shared_children": str(independent.shared_children),
        "val_children": str(independent.val_children), "val_unknown": str(independent.unknown),
        "train_unknown": str(independent.train_unknown),
        "test_images_named": str(len(test_children)), "test_children": str(test_children.nunique()),
        "test_pneumonia_images": str(len(pneumonia)), "test_pneumonia_children": str(pneumonia.nunique()),
        "cutoff_before": f"{before.margin:.3f}", "cutoff_after": f"{after.margin:.3f}",
        "errors_before": f"{before.errors_reviewed} of {before.validation_errors}",
        "errors_after": f"{after.errors_reviewed} of {after.validation_errors}",
        "review_before": str(reviewed["before"]), "review_after": str(reviewed["after"]),
        "review_precision": _markdown_table(precision), "review_shares": _markdown_table(shares.reset_index()),
        "reader_val_auc": f"{_auc(real_val):.3f}", "reader_val_auc_independent": f"{_auc(kept):.3f}",
        "reader_test_auc": f"{_auc(real_test):.3f}", "reader_val_n": str(len(real_val)), "reader_val_independent_n": str(len(kept)),
        "reader_threshold_before": f"{reader_record:.3f}", "reader_threshold_after": f"{thresholds[reader_analysis.ORIGINAL]:.3f}",
        "overlap_finding": overlap_finding(kept, real_test, data_dir),
        "family_size": str(len(reader_analysis.FAMILY_PAIRS)),
        "fixed_specificity": f"{reader_analysis.FIXED_SPECIFICITY:.0%}",
        "cnn_val_errors": _error_mix(cnn_val), "cnn_val_errors_independent": _error_mix(cnn_val[cnn_val["index"].isin(independent.indices)]),
        "cnn_test_errors": _error_mix(predictions), "cnn_threshold": f"{threshold:.3f}",
    }
    return numbers


def overlap_finding(val: pd.DataFrame, test: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> str:
    """One sentence: the reader's AUC on the val originals independent of train against its AUC on the test
    originals (children resampled within each set), and what that says about the val/test gap."""
    children = {"val": patients.split_patients("val", data_dir), "test": patients.split_patients("test", data_dir)}
    sets = [(f["label"].to_numpy(), f["prob_pneumonia"].to_numpy(), patients.groups(f["index"], children[name]))
            for name, f in (("val", val), ("test", test))]
    gap = resampling.auc_difference(*sets)
    verb = verdict.direction(gap.low, gap.high)
    meaning = ("so children shared with train do not explain why the validation split flattered the reader: the "
               "validation images, all from Kermany's train folder, differ from the test folder's"
               if verb == "higher" else "so the gap between the whole validation split and test is not shown to "
               "remain once the shared children are left out")
    return (f"on the independent validation originals its AUC is {verb} {'than' if verb != 'no different' else 'from'} "
            f"on the test originals ({gap.signed(3)}, children resampled in each set), {meaning}")


def review_cutoff_on(indices: Sequence[int] | None, data_dir: str | os.PathLike | None = None) -> "ReviewCutoff":
    """The committed CNN run's review cut-off chosen on the val images ``indices`` (``None``: every val image)."""
    return review.choose_cutoff(DEFAULT_VALIDATION, read_threshold(DEFAULT_VALIDATION.parent), data_dir=data_dir,
                                validation_indices=indices)


def _auc(frame: pd.DataFrame) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(frame["label"], frame["prob_pneumonia"]))


def _error_mix(frame: pd.DataFrame) -> str:
    wrong = frame["pred"] != frame["label"]
    negatives, positives = int((wrong & (frame["label"] == 1)).sum()), int((wrong & (frame["label"] == 0)).sum())
    return f"{int(wrong.sum())} errors ({negatives} false negatives, {positives} false positives) on {len(frame)} images"


def _markdown_table(frame: pd.DataFrame) -> str:
    """A small table as Markdown (index as the first column when it has a name or is not a range)."""
    shown = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
    header = [str(c) if str(c) != "index" else "" for c in shown.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def committed_verdict(data_dir: str | os.PathLike | None = None, n_resamples: int = evaluate.BOOTSTRAP_SAMPLES) -> str:
    """The super-resolution verdict (three Markdown bullets) computed from the committed artifacts alone: the
    fidelity tables, the reader's and the CNN's test predictions, and the children behind the test images.
    No model runs: the book's front page states it with the numbers of the files in the repository."""
    scores = pd.concat([pd.read_csv(committed(f"fidelity/{name}.csv")) for name in VERDICT_FIDELITY], ignore_index=True)
    scores = scores.drop_duplicates(["index", "method", "size"]).reset_index(drop=True)
    frame = pd.read_csv(committed("hr_reader/predictions_test.csv"))
    if frame["stand_in"].astype(bool).any():
        raise DataError("the committed reader predictions hold stand-in rows: commit results of real models only")
    frame = reader_analysis.with_cnn(frame[frame["input"].isin(reader_analysis.FAMILY)],
                                     read_predictions(DEFAULT_PREDICTIONS, "test", data_dir))
    cases = sorted(set(frame["index"]))
    draws = reader_analysis.Resamples.of(frame, dict(zip(cases, patients.groups(cases, patients.split_patients("test", data_dir)))),
                                         n_resamples)
    lines = sr_verdict.verdict_lines(fidelity.paired_differences(scores), reader_analysis.family_comparisons(draws))
    return "\n".join(f"- {line}" for line in lines) + "\n"


def fidelity_examples(test: Split, hr: Any, indices: Sequence[int], methods: Sequence[str], sr_model: Any = None) -> Any:
    """The chosen test images (those with a real original) upscaled by each method, with error maps, for the figure."""
    return fidelity.fidelity_cases(test, hr, hr.available(indices), methods, sr_model=sr_model)
