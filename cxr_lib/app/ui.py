"""The Gradio app: a second opinion from MedGemma on a PneumoniaMNIST image, or on your own file.

:func:`build_app` returns a ``gr.Blocks`` page; :func:`launch` serves it (on 127.0.0.1, no public
link unless asked, uploads capped at :data:`~cxr_lib.data.images.MAX_FILE_BYTES`, one generation at a
time per model so two users never collide). The page has:

- galleries of test images (the reference analysis's ten cases, the CNN's errors when a predictions
  CSV exists, a seeded random sample) and an upload box (PNG, JPEG, TIFF, BMP, DICOM);
- the 28×28 original, the image as the model sees it after the chosen upscaler, and the real
  224×224 image where the high-resolution reference has one;
- prompt presets that fill an editable prompt, the answer languages (those written right to left shown so), greedy
  or seeded sampling, a token budget, and optional answer scoring (P(pneumonia));
- the streamed report, the label reading with its evidence sentence highlighted, the ground truth
  and the CNN's prediction, and the whole record as Markdown and JSON downloads. A thought that
  MedGemma 1.5 opens (``<unused94>…``, :mod:`cxr_lib.models.thoughts`) streams into a folded panel, never
  into the report box; a reply that never leaves its thought reads as uncertain (``thought-only``).

Everything the page does is also a named API endpoint (``/preview``, ``/generate``, ``/preset``),
so ``gradio_client`` can drive it. The work is done by plain functions below (no Gradio in them),
which the tests call directly too. A stand-in model is announced by a banner and in every record.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from cxr_lib.analysis.labels import highlight
from cxr_lib.analysis.records import TRUTH_NAMES, Record, ResultCache, image_sha256, outcome
from cxr_lib.analysis.runner import make_record
from cxr_lib.data.artifacts import committed
from cxr_lib.data.cases import cases_from_predictions, reference_cases, stratified_sample
from cxr_lib.data.datasets import HRReference, Split, label_names, load_hr_reference, load_split
from cxr_lib.data.images import MAX_FILE_BYTES, load_image_file
from cxr_lib.data.predictions import read_predictions
from cxr_lib.errors import CxrError, ImageInputError, ParameterError, ServerError
from cxr_lib.languages import DEFAULT_LANGUAGE, LANGUAGES, is_right_to_left
from cxr_lib.models.prompts import build_prompt, clean_prompt, language_code, prompt_presets
from cxr_lib.models.provenance import STAND_IN_LABEL, is_stand_in
from cxr_lib.models.upscale import (
    DEFAULT_SWIN2SR,
    METHODS,
    SuperResolver,
    display_name,
    load_super_resolver,
    resize,
    upscale,
)
from cxr_lib.models.vlm import VLM, GenerationSettings, load_vlm
from cxr_lib.storage import atomic_write_json, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import gradio as gr

log = logging.getLogger(__name__)

#: Default address and port: local only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: The size every image is shown to the model at (the experiment's 224×224).
MODEL_SIZE = 224
#: Token budget limits (slider and API) and the default (the reference UI's).
MIN_NEW_TOKENS, MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS = 8, 1024, 512
#: Sampling limits and defaults (the reference UI's temperature 0.2, top-p 0.9).
TEMPERATURE_RANGE, DEFAULT_TEMPERATURE = (0.05, 1.5), 0.2
TOP_P_RANGE, DEFAULT_TOP_P = (0.05, 1.0), 0.9
MAX_SEED = 2**31 - 1  # the seed box's upper limit
#: Images in the random-sample gallery and at most in the CNN-errors gallery.
SAMPLE_SIZE, MAX_GALLERY = 16, 60
#: Queue: one generation at a time; at most this many requests waiting.
QUEUE_MAX_SIZE = 64
#: Input sources.
SOURCE_DATASET, SOURCE_UPLOAD = "test image", "uploaded file"
#: Colours of the highlighted evidence sentence, by label.
LABEL_COLORS = {"pneumonia": "#f28b82", "normal": "#81c995", "uncertain": "#fdd663"}

CSS = """
#stand-in-banner {background: #b3261e; color: white; padding: 10px 14px; border-radius: 8px;
                  font-weight: 700; font-size: 1.05em}
#stand-in-banner * {color: white !important}
#stand-in-banner code {background: rgba(0, 0, 0, 0.3) !important}
#load-error-banner {background: #7a4f01; color: white; padding: 10px 14px; border-radius: 8px}
#load-error-banner * {color: white !important}
.pixelated img {image-rendering: pixelated}
"""


# --------------------------------------------------------------------------- state


@dataclass
class AppContext:
    """What the app serves: the model (or why it failed to load), the data, the CNN's predictions."""

    model: str
    vlm: "VLM | None"
    load_error: str | None
    model_is_stand_in: bool
    sr_model: str | None
    split: "Split | None"
    data_error: str | None
    hr: "HRReference | None"
    predictions: Any  # pandas DataFrame indexed by test index, or None
    predictions_source: str | None
    cache: ResultCache  # the app's records (its folder also holds the downloads)
    galleries: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _sr: "SuperResolver | None" = field(default=None, repr=False)
    _sr_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def results_dir(self) -> Path:
        """Where records and downloads are written."""
        return self.cache.folder

    @property
    def upscalers(self) -> tuple[str, ...]:
        """The upscalers offered (every one in the registry, :data:`cxr_lib.models.upscale.UPSCALERS`)."""
        return METHODS

    def upscaler_choices(self) -> list[tuple[str, str]]:
        """(shown name, upscaler) for the menu: a stand-in Swin2SR says so, real weights say so."""
        swin2sr_stand_in = bool(self.sr_model) and is_stand_in(self.sr_model)
        return [(display_name(method, stand_in=method == "swin2sr" and swin2sr_stand_in), method) for method in self.upscalers]

    def super_resolver(self) -> "SuperResolver":
        """The Swin2SR model, loaded on first use (the given one, else the default)."""
        with self._sr_lock:
            if self._sr is None:
                self._sr = load_super_resolver(self.sr_model or DEFAULT_SWIN2SR)
            return self._sr

    def banner(self) -> str:
        """Markdown for the stand-in banner ("" for a real model)."""
        parts = []
        if self.model_is_stand_in:
            parts.append(f"⚠ {STAND_IN_LABEL} — report model: `{_short(self.model)}`")
        if self.sr_model and is_stand_in(self.sr_model):
            parts.append(f"⚠ Swin2SR is a stand-in too: `{_short(self.sr_model)}`")
        return "\n\n".join(parts)


def _short(model: str) -> str:
    """A model folder's last two path parts (hub ids unchanged), for the banner."""
    path = Path(model)
    return "/".join(path.parts[-2:]) if path.is_dir() else model


def create_context(
    model: str,
    *,
    sr_model: str | None = None,
    data_dir: str | os.PathLike | None = None,
    predictions_csv: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    vlm: "VLM | None" = None,
) -> AppContext:
    """Load what the app needs; a model or data that fails to load is recorded, not raised."""
    load_error = None
    if vlm is None:
        try:
            vlm = load_vlm(str(model))
        except CxrError as exc:
            load_error = str(exc)
            log.warning("model %s failed to load: %s", model, exc)
    stand_in = vlm.is_stand_in if vlm is not None else is_stand_in(model)

    split, data_error, hr = None, None, None
    try:
        split = load_split("test", 28, data_dir)
    except CxrError as exc:
        data_error = str(exc)
    if split is not None:
        try:
            hr = load_hr_reference(data_dir)
        except CxrError:
            hr = None

    predictions, predictions_source = None, None
    csv = Path(predictions_csv) if predictions_csv else default_predictions_csv()
    if csv is not None and split is not None and csv.is_file():
        try:
            predictions = read_predictions(csv, split).set_index("index", drop=False)
            predictions_source = str(csv)
        except CxrError as exc:
            log.warning("CNN predictions not shown: %s", exc)
            if predictions_csv:
                raise

    cache = ResultCache(results_dir if results_dir else tempfile.mkdtemp(prefix="cxr-ui-"))
    ctx = AppContext(str(model), vlm, load_error, stand_in, sr_model, split, data_error, hr,
                     predictions, predictions_source, cache)
    if split is not None:
        ctx.galleries["reference"] = reference_cases().indices
        ctx.galleries["sample"] = stratified_sample(split.labels, SAMPLE_SIZE, seed=0).indices
        if predictions is not None:
            ctx.galleries["cnn-errors"] = cases_from_predictions(predictions, "cnn-errors").indices[:MAX_GALLERY]
    return ctx


def default_predictions_csv() -> Path | None:
    """The committed CNN predictions (``artifacts/baseline/predictions_test.csv``) if present."""
    path = committed("baseline/predictions_test.csv")
    return path if path.is_file() else None


# --------------------------------------------------------------------------- inputs


@dataclass
class CaseInput:
    """One image as the app handles it: the original, what the model sees, and what is known of it."""

    source: str  # SOURCE_DATASET | SOURCE_UPLOAD
    original: np.ndarray  # uint8 (H, W)
    model_view: np.ndarray  # uint8 (224, 224)
    hr: np.ndarray | None  # uint8 (224, 224) or None
    index: int | None  # test index for dataset images
    file_name: str | None  # uploaded file name
    truth: str | None  # ground-truth class name
    cnn: dict[str, Any] | None  # {"label": name, "prob_pneumonia": p}
    upscaler: str
    note: str

    def describe(self) -> dict[str, Any]:
        """What the app knows of the input beyond its :class:`~cxr_lib.analysis.records.Record` (shown beside it)."""
        return {"source": self.source, "file_name": self.file_name, "original_size": list(self.original.shape[:2]),
                "model_view_size": list(self.model_view.shape[:2]), "cnn": self.cnn, "note": self.note}


def parse_index(value: Any, split: "Split") -> int:
    """A test index from the page or the API (a number or numeric text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ParameterError(f"no test image chosen: pick one from a gallery or type an index from 0 to {len(split) - 1}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"test index {value!r} is not a number: type an index from 0 to {len(split) - 1}") from None
    if not number.is_integer():
        raise ParameterError(f"test index {value!r} is not a whole number: type an index from 0 to {len(split) - 1}")
    index = int(number)
    split.position(index)  # SplitError when out of range
    return index


def check_upscaler(ctx: AppContext, upscaler: Any) -> str:
    """``upscaler`` if offered, else :class:`ParameterError`."""
    if upscaler not in ctx.upscalers:
        raise ParameterError(f"unknown upscaler {upscaler!r}: choose one of {', '.join(ctx.upscalers)}")
    return str(upscaler)


def upscale_for_model(ctx: AppContext, image: np.ndarray, upscaler: str) -> tuple[np.ndarray, str]:
    """The 224×224 image the model sees, and a note on how it was made."""
    side = min(image.shape[:2])
    note = ""
    if image.shape[0] != image.shape[1]:
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        image = image[top:top + side, left:left + side]
        note = f"centre-cropped to {side}×{side}; "
    if side >= MODEL_SIZE:
        return resize(image, MODEL_SIZE, "lanczos"), note + f"downscaled to {MODEL_SIZE}×{MODEL_SIZE} (Lanczos); the upscaler does not apply"
    sr = ctx.super_resolver() if upscaler == "swin2sr" else None
    label = upscaler
    if sr is not None and sr.is_stand_in:
        label += " (STAND-IN)"
    return upscale(image, upscaler, MODEL_SIZE, sr_model=sr), note + f"{side}×{side} → {MODEL_SIZE}×{MODEL_SIZE} by {label}"


def load_case(ctx: AppContext, source: str, index: Any, upload: Any, upscaler: str) -> CaseInput:
    """The chosen image (a test index or an uploaded file) prepared for the model."""
    upscaler = check_upscaler(ctx, upscaler)
    if source == SOURCE_UPLOAD:
        path = upload_path(upload)
        if path is None:
            raise ImageInputError("no file uploaded: drop a PNG, JPEG or DICOM file in the upload box, or pick a test image")
        original = load_image_file(path)
        view, note = upscale_for_model(ctx, original, upscaler)
        name = Path(path).name
        return CaseInput(SOURCE_UPLOAD, original, view, None, None, name, None, None, upscaler, note)
    if source != SOURCE_DATASET:
        raise ParameterError(f"unknown image source {source!r}: choose {SOURCE_DATASET!r} or {SOURCE_UPLOAD!r}")
    if ctx.split is None:
        raise ParameterError(f"no test images are available ({ctx.data_error}): upload an image instead")
    i = parse_index(index, ctx.split)
    original = np.asarray(ctx.split.image(i))
    view, note = upscale_for_model(ctx, original, upscaler)
    hr = ctx.hr.image(i) if ctx.hr is not None and ctx.hr.has(i) else None
    names = label_names()
    cnn = None
    if ctx.predictions is not None:
        row = ctx.predictions.loc[i]
        cnn = {"label": names[int(row["pred"])], "prob_pneumonia": round(float(row["prob_pneumonia"]), 4)}
    return CaseInput(SOURCE_DATASET, original, view, hr, i, None, names[ctx.split.label(i)], cnn, upscaler, note)


def upload_path(upload: Any) -> str | None:
    """The local path of an uploaded file as Gradio passes it (a path, a dict or a file object)."""
    if upload is None:
        return None
    if isinstance(upload, (str, os.PathLike)):
        return str(upload)
    if isinstance(upload, dict):
        return upload.get("path") or upload.get("name")
    return getattr(upload, "path", None) or getattr(upload, "name", None)


def enlarge(image: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """A small image enlarged with nearest neighbour, so its pixels show as squares."""
    side = max(image.shape[:2])
    if image.shape[0] != image.shape[1] or side >= size:
        return image
    return resize(image, size - size % side, "nearest")


def case_markdown(case: CaseInput) -> str:
    """What is known about an image, as Markdown."""
    if case.source == SOURCE_UPLOAD:
        lines = [f"**Uploaded file** `{case.file_name}` · {case.original.shape[1]}×{case.original.shape[0]} pixels",
                 "Ground truth: unknown (not a test image)."]
    else:
        lines = [f"**Test image {case.index}** · ground truth: **{case.truth}**"]
        if case.cnn:
            verdict = "right" if case.cnn["label"] == case.truth else "**wrong**"
            lines.append(f"CNN (MaxViT): {case.cnn['label']} (P(pneumonia) = {case.cnn['prob_pneumonia']:.3f}) — {verdict}")
        else:
            lines.append("CNN prediction: not available (no predictions CSV).")
        lines.append("Real 224×224 image: " + ("shown" if case.hr is not None else "none in the reference for this index"))
    lines.append(f"Model input: {case.note}")
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- requests


def _whole(value: Any) -> Any:
    """A whole float from a page control (Gradio may send 64.0) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def make_settings(sampling: Any, temperature: Any, top_p: Any, seed: Any, max_new_tokens: Any) -> GenerationSettings:
    """:class:`~cxr_lib.models.vlm.GenerationSettings` from the page's controls, checked by it (the
    page's sliders keep to narrower ranges); temperature and top-p only count when sampling."""
    do_sample = bool(sampling) if isinstance(sampling, bool) else str(sampling).lower() in ("sampling", "sample", "true")
    seed = 0 if seed in (None, "") else _whole(seed)
    sampling_values = {"temperature": temperature, "top_p": top_p} if do_sample else {}
    return GenerationSettings(max_new_tokens=_whole(max_new_tokens), do_sample=do_sample, seed=seed, batch_size=1,
                              **sampling_values)


def language_choices() -> list[tuple[str, str]]:
    """The answer-language menu: ("Name (code)", code) for every registered language, in menu order."""
    return [(f"{language.name} ({code})", code) for code, language in LANGUAGES.items()]


def full_prompt(text: str, language: Any) -> tuple[str, str]:
    """(language code, the prompt sent: the edited text plus the language line)."""
    code = language_code(language)
    return code, build_prompt("zero-shot", code, custom=text)


#: The prompt strategy an app record carries: zero-shot with the page's own text.
APP_STRATEGY = "zero-shot+custom"


def verdict_markdown(case: CaseInput, record: dict[str, Any]) -> str:
    """A record's reading beside the ground truth and the CNN, as Markdown."""
    lines = [f"### Reading: {record['label']}"]
    if record.get("evidence"):
        lines.append(f"Evidence: “{record['evidence']}”" + (f" (rule: {record['rule']})" if record.get("rule") else ""))
    elif record.get("rule"):
        lines.append(f"Rule: {record['rule']}")
    if record.get("rule") == "thought-only":
        lines.append("The model did not leave its thought (see *Model's thought*): there is no answer to read.")
    if record.get("p_pneumonia") is not None:
        lines.append(f"P(pneumonia) from answer scoring: **{record['p_pneumonia']:.3f}**")
    verdict = outcome(record["label"], record["truth"])
    if verdict is not None:
        agrees = {"right": "agrees", "wrong": "does not agree", "abstained": "gives no clear label"}[verdict]
        lines.append(f"Ground truth: **{TRUTH_NAMES[record['truth']]}** — the reading {agrees}.")
    if case.cnn:
        lines.append(f"CNN: {case.cnn['label']} (P(pneumonia) = {case.cnn['prob_pneumonia']:.3f})")
    if record.get("stand_in"):
        lines.append(f"**{STAND_IN_LABEL}**")
    return "\n\n".join(lines)


def record_payload(ctx: AppContext, case: CaseInput, record: Record) -> dict[str, Any]:
    """What the page shows and the downloads hold: the record's dict form (labelled when a stand-in made
    it; :meth:`~cxr_lib.analysis.records.Record.to_labelled_dict`), a short ``id`` (its cache key's
    start), and under ``input`` what the app knows of the image beyond the record."""
    payload = {"id": record.key[:12], **record.to_labelled_dict(), "input": case.describe()}
    if case.upscaler == "swin2sr" and ctx._sr is not None:
        payload["super_resolution"] = {"model_id": ctx._sr.model_id, "revision": ctx._sr.revision,
                                       "stand_in": ctx._sr.is_stand_in}
    return payload


def record_markdown(record: dict[str, Any]) -> str:
    """A record (:func:`record_payload`) as a readable Markdown report."""
    case = record["input"]
    title = f"test image {record['index']}" if record["index"] is not None else f"uploaded file {case['file_name']}"
    lines = [f"# MedGemma second opinion: {title}", ""]
    if record.get("stand_in_label"):
        lines += [f"> **{record['stand_in_label']}**", ""]
    lines += [
        f"- Model: `{record['model_id']}` (revision `{record['revision']}`)",
        f"- Upscaler: {record['condition']} — {case['note']}",
        f"- Ground truth: {TRUTH_NAMES.get(record['truth'], 'unknown')}",
    ]
    if case.get("cnn"):
        lines.append(f"- CNN: {case['cnn']['label']} (P(pneumonia) = {case['cnn']['prob_pneumonia']:.3f})")
    lines += [
        f"- Language: {record['language']}",
        f"- Settings: `{json.dumps(record['settings'])}`",
        f"- Created: {record['created']} · {record['seconds']} s",
        "",
        "## Prompt",
        "",
        *("> " + line for line in record["prompt"].splitlines()),
        "",
        "## Report",
        "",
        record["text"] or "_(empty)_",
        "",
    ]
    if record.get("thought_state", "none") != "none":
        ending = ("never ended: no answer" if record["thought_state"] == "unclosed"
                  else "ended before the answer" if record["text"] else "ended; no answer followed")
        lines += [f"## Thought (not part of the report; {ending})", "", *("> " + line for line in
                  (record.get("thought") or "(empty)").splitlines()), ""]
    lines += [
        "## Reading",
        "",
        f"- Label: **{record['label']}**",
        f"- Evidence: {record['evidence'] or '—'}",
        f"- Rule: {record['rule'] or '—'}",
    ]
    if record.get("p_pneumonia") is not None:
        lines.append(f"- P(pneumonia) from answer scoring: {record['p_pneumonia']:.4f}")
    if record.get("p_thought") is not None:
        lines.append(f"- P(thought) at the answer's first token: {record['p_thought']:.4f}")
    return "\n".join(lines) + "\n"


def write_downloads(record: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write a record (:func:`record_payload`) as ``<id>.md`` and ``<id>.json`` (atomically); return both paths."""
    stem = f"cxr-report-{record['id']}"
    md = atomic_write_text(folder / f"{stem}.md", record_markdown(record))
    js = atomic_write_json(folder / f"{stem}.json", record)
    return md, js


def run_generation(ctx: AppContext, source: str, index: Any, upload: Any, upscaler: Any, prompt: Any, language: Any,
                   sampling: Any, temperature: Any, top_p: Any, seed: Any, max_new_tokens: Any,
                   score: Any) -> Iterator[dict[str, Any]]:
    """Check a request, then stream the report; yields ``{"text": …, "thought": …}`` and, last, ``{"record": …}``.

    ``text`` is the answer only; a thought streams apart in ``thought`` (see :mod:`cxr_lib.models.thoughts`).
    The record is a :class:`~cxr_lib.analysis.records.Record` made as the runner makes one
    (:func:`~cxr_lib.analysis.runner.make_record`), stored in the app's
    :class:`~cxr_lib.analysis.records.ResultCache`, and yielded in the form the page shows
    (:func:`record_payload`). Raises :class:`CxrError` for anything the user can fix (before any text
    is produced).
    """
    if ctx.vlm is None:
        raise ParameterError(f"the model could not be loaded, so no report can be generated: {ctx.load_error}")
    text = clean_prompt(prompt)
    code, sent = full_prompt(text, language)
    settings = make_settings(sampling, temperature, top_p, seed, max_new_tokens)
    case = load_case(ctx, source, index, upload, upscaler)
    generation = None
    for update in ctx.vlm.stream_updates(case.model_view, sent, settings):
        generation = update.generation
        if generation is None:
            yield {"text": update.answer, "thought": update.thought, "language": code}
    answer = ctx.vlm.score_answers([case.model_view])[0] if score else None
    record = make_record(
        ctx.vlm, ctx.vlm.revision, generation, index=case.index, condition=case.upscaler,
        truth=None if case.index is None else ctx.split.label(case.index), strategy=APP_STRATEGY, language=code,
        prompt=sent, settings=settings.as_dict(), digest=image_sha256(case.model_view),
        p_pneumonia=None if answer is None else answer.p_pneumonia, p_thought=None if answer is None else answer.p_thought)
    ctx.cache.put(record)
    yield {"text": generation.text, "thought": generation.thought, "language": code,
           "record": record_payload(ctx, case, record), "case": case}


# --------------------------------------------------------------------------- the page


def _gallery_items(ctx: AppContext, name: str) -> list[tuple[np.ndarray, str]]:
    names = label_names()
    items = []
    for i in ctx.galleries.get(name, ()):
        caption = f"#{i} · {names[ctx.split.label(i)]}"
        if ctx.predictions is not None:
            caption += f" · CNN {names[int(ctx.predictions.loc[i]['pred'])]}"
        items.append((enlarge(np.asarray(ctx.split.image(i)), 112), caption))
    return items


def _user_error(exc: BaseException) -> "gr.Error":
    import gradio as gr

    if isinstance(exc, CxrError):
        return gr.Error(str(exc), title="Cannot do that")
    log.exception("unexpected error in the app")
    return gr.Error(f"unexpected error ({type(exc).__name__}): {str(exc).splitlines()[0] if str(exc) else ''} "
                    "— the app is still running; see the server log", title="Error")


def build_app(
    model: "str | os.PathLike | VLM",
    *,
    sr_model: str | None = None,
    data_dir: str | os.PathLike | None = None,
    predictions_csv: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
) -> "gr.Blocks":
    """The Gradio page for ``model``: a hub id or a model folder (e.g. the stand-in), or a loaded
    :class:`~cxr_lib.models.vlm.VLM` (a notebook that has one need not load it twice).

    ``sr_model``: the Swin2SR for the ``swin2sr`` upscaler (default: the real one, loaded on first
    use). ``data_dir``: the PneumoniaMNIST folder. ``predictions_csv``: the CNN's test predictions
    (default: the committed ``artifacts/baseline/predictions_test.csv`` when present).
    ``results_dir``: where downloads are written (default: a fresh temporary folder).
    A model that fails to load does not stop the page: it shows why, and generation says so.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    vlm = None if isinstance(model, (str, os.PathLike)) else model
    name = vlm.model_id if vlm is not None else str(model)
    ctx = create_context(name, sr_model=sr_model, data_dir=data_dir, predictions_csv=predictions_csv,
                         results_dir=results_dir, vlm=vlm)
    presets = prompt_presets()
    first_preset = next(iter(presets))

    with gr.Blocks(title="MedGemma second opinion — PneumoniaMNIST", analytics_enabled=False) as app:
        gr.Markdown("# MedGemma as a second opinion on chest X-rays\n"
                    "Pick a PneumoniaMNIST test image (or upload your own), choose how it is upscaled and what to ask, "
                    "and read the report beside the ground truth and the CNN's prediction. "
                    "Research use only: not a medical device.")
        banner = ctx.banner()
        if banner:
            gr.Markdown(banner, elem_id="stand-in-banner")
        if ctx.load_error:
            gr.Markdown(f"**The model could not be loaded** — {ctx.load_error}", elem_id="load-error-banner")
        if ctx.data_error:
            gr.Markdown(f"**No test images** — {ctx.data_error}. Uploads still work.", elem_id="load-error-banner")

        with gr.Row():
            with gr.Column(scale=5):
                with gr.Tabs():
                    galleries = {}
                    titles = {"reference": "Reference cases", "cnn-errors": "CNN errors", "sample": "Random sample"}
                    for name in ("reference", "cnn-errors", "sample"):
                        if name not in ctx.galleries:
                            continue
                        with gr.Tab(titles[name]):
                            galleries[name] = gr.Gallery(
                                _gallery_items(ctx, name), label=titles[name], columns=5, height=300,
                                allow_preview=False, interactive=False, elem_id=f"gallery-{name}", format="png")
                    with gr.Tab("Upload"):
                        upload = gr.File(label=f"Your image (PNG, JPEG, TIFF, BMP or DICOM; up to "
                                               f"{_limit_text()})", file_types=["image", ".dcm", ".dicom"],
                                         type="filepath", elem_id="upload")
                with gr.Row():
                    source = gr.Radio([SOURCE_DATASET, SOURCE_UPLOAD], value=SOURCE_DATASET, label="Image from",
                                      elem_id="source")
                    index = gr.Number(value=ctx.galleries.get("reference", (0,))[0] if ctx.split is not None else None,
                                      precision=0, label="Test index", minimum=0, elem_id="index")
                    upscaler = gr.Dropdown(ctx.upscaler_choices(), value="lanczos", label="Upscaler", elem_id="upscaler")
                with gr.Row():
                    original = gr.Image(label="Original 28×28", type="numpy", interactive=False,
                                        height=224, elem_classes=["pixelated"], format="png")
                    model_view = gr.Image(label="Model input 224×224", type="numpy", interactive=False,
                                          height=224, format="png")
                    hr_view = gr.Image(label="Real 224×224 image", type="numpy", interactive=False, height=224,
                                       format="png")
                case_info = gr.Markdown(elem_id="case-info")

            with gr.Column(scale=4):
                preset = gr.Dropdown(list(presets), value=first_preset, label="Prompt preset", elem_id="preset")
                prompt = gr.Textbox(presets[first_preset], lines=4, label="Prompt (editable)", elem_id="prompt")
                language = gr.Dropdown(language_choices(), value=DEFAULT_LANGUAGE, label="Answer language", elem_id="language")
                with gr.Row():
                    sampling = gr.Radio(["greedy", "sampling"], value="greedy", label="Decoding", elem_id="decoding")
                    max_tokens = gr.Slider(MIN_NEW_TOKENS, MAX_NEW_TOKENS, value=DEFAULT_NEW_TOKENS, step=1,
                                           label="Max new tokens", elem_id="max-tokens")
                with gr.Row():
                    temperature = gr.Slider(*TEMPERATURE_RANGE, value=DEFAULT_TEMPERATURE, step=0.05,
                                            label="Temperature (sampling)")
                    top_p = gr.Slider(*TOP_P_RANGE, value=DEFAULT_TOP_P, step=0.05, label="Top-p (sampling)")
                    seed = gr.Number(0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed", elem_id="seed")
                score = gr.Checkbox(False, label="Also score P(pneumonia) (one extra forward pass)", elem_id="score")
                go = gr.Button("Generate report", variant="primary", elem_id="generate")
                report = gr.Textbox(label="Report", lines=10, max_lines=30, interactive=False, elem_id="report",
                                    buttons=["copy"])
                with gr.Accordion("Model's thought (not part of the report)", open=False, elem_id="thought-panel"):
                    thought_box = gr.Textbox(label="Thought", lines=6, max_lines=20, interactive=False, elem_id="thought")
                reading_view = gr.HighlightedText(label="Label reading (evidence highlighted)",
                                                  color_map=LABEL_COLORS, show_legend=True, elem_id="reading")
                verdict = gr.Markdown(elem_id="verdict")
                with gr.Row():
                    md_file = gr.DownloadButton("Download Markdown", elem_id="download-md")
                    json_file = gr.DownloadButton("Download JSON record", elem_id="download-json")
                record_view = gr.JSON(label="Record (model, input, prompt, parameters, output)", max_height=320,
                                      elem_id="record")

        # ---- handlers (closures over ctx)
        def preview(source_value, index_value, upload_value, upscaler_value):
            try:
                case = load_case(ctx, source_value, index_value, upload_value, upscaler_value)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
                raise _user_error(exc) from None
            return enlarge(case.original), case.model_view, case.hr, case_markdown(case)

        def select_case(name: str):
            def choose(evt: gr.SelectData):
                indices = ctx.galleries.get(name, ())
                i = evt.index if isinstance(evt.index, int) else evt.index[0]
                return SOURCE_DATASET, indices[int(i)]
            choose.__annotations__["evt"] = gr.SelectData  # a real class: this module's annotations are strings
            return choose

        def uploaded(upload_value):
            return SOURCE_UPLOAD if upload_value else SOURCE_DATASET

        def fill_preset(name):
            if name not in presets:
                raise gr.Error(f"unknown preset {name!r}: choose one of {', '.join(presets)}")
            return presets[name]

        def language_direction(code):
            rtl = is_right_to_left(code)
            return gr.Textbox(rtl=rtl), gr.HighlightedText(rtl=rtl)

        def generate(source_value, index_value, upload_value, upscaler_value, prompt_value, language_value,
                     sampling_value, temperature_value, top_p_value, seed_value, tokens_value, score_value):
            try:
                stream = run_generation(ctx, source_value, index_value, upload_value, upscaler_value, prompt_value,
                                        language_value, sampling_value, temperature_value, top_p_value, seed_value,
                                        tokens_value, score_value)
                for step in stream:
                    if "record" not in step:
                        yield (step["text"], gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), step["thought"])
                        continue
                    record = step["record"]
                    md_path, json_path = write_downloads(record, ctx.results_dir)
                    yield (step["text"], highlight(step["text"], record["evidence"], record["label"]),
                           verdict_markdown(step["case"], record), str(md_path), str(json_path), record, step["thought"])
            except Exception as exc:  # noqa: BLE001
                raise _user_error(exc) from None

        preview_inputs = [source, index, upload, upscaler]
        preview_outputs = [original, model_view, hr_view, case_info]
        # The preview, callable by name from gradio_client (declared first so it gets the plain name).
        gr.Button(visible=False).click(preview, preview_inputs, preview_outputs, api_name="preview",
                                       concurrency_id="preview")
        quiet = dict(api_visibility="private", concurrency_id="preview", trigger_mode="always_last")
        for name, gallery in galleries.items():
            gallery.select(select_case(name), None, [source, index], api_visibility="private").then(
                preview, preview_inputs, preview_outputs, **quiet)
        for trigger in (upload.upload, upload.clear):
            trigger(uploaded, upload, source, api_visibility="private").then(
                preview, preview_inputs, preview_outputs, **quiet)
        for trigger in (index.submit, index.blur, source.input, upscaler.change):  # not on every keystroke
            trigger(preview, preview_inputs, preview_outputs, **quiet)
        preset.change(fill_preset, preset, prompt, api_name="preset")
        language.change(language_direction, language, [report, reading_view], api_visibility="private")
        go.click(generate,
                 [source, index, upload, upscaler, prompt, language, sampling, temperature, top_p, seed, max_tokens, score],
                 [report, reading_view, verdict, md_file, json_file, record_view, thought_box],
                 api_name="generate", concurrency_limit=1, concurrency_id="model")
        app.load(preview, preview_inputs, preview_outputs, api_visibility="private")

    app.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    app.cxr_context = ctx  # type: ignore[attr-defined]
    return app


def _limit_text() -> str:
    return f"{MAX_FILE_BYTES // 2**20} MB"


def launch(app: "gr.Blocks", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, share: bool = False,
           block: bool = True) -> str:
    """Serve the page on ``host:port`` (local only by default); return its local URL.

    ``share=True`` asks Gradio for a public link (needs the network; off by default). With
    ``block=False`` the server runs in a background thread and this returns at once.
    Raises :class:`~cxr_lib.errors.ServerError` when the port is taken or the host is unusable.
    """
    import gradio as gr

    check_port(host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the app listens on %s: anyone who can reach this machine can use it", host)
    ctx = getattr(app, "cxr_context", None)
    allowed = [str(ctx.results_dir)] if ctx is not None else []
    if "ipykernel" in sys.modules:
        block = False  # in a notebook the kernel must stay free; the server runs in the background
    try:
        app.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block,
                   max_file_size=MAX_FILE_BYTES, allowed_paths=allowed, theme=gr.themes.Soft(), css=CSS,
                   ssr_mode=False, quiet=True, show_error=False, inbrowser=False)
    except OSError as exc:
        raise ServerError(f"cannot serve on {host}:{port} ({str(exc).splitlines()[0]}): choose another --port "
                          "or stop the program using it") from exc
    return getattr(app, "local_url", None) or f"http://{host}:{port}/"


def check_port(host: str, port: Any) -> int:
    """``port`` if it is a port number that ``host`` can listen on now, else :class:`ServerError`."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServerError(f"port {port!r} is not a port number: choose one from 1024 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerError(f"host {host!r} cannot be resolved ({exc}): use 127.0.0.1 (this machine only)") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "is in use" if exc.errno in (98, 48) else f"cannot be used ({exc.strerror})"
            raise ServerError(f"port {port} on {host} {reason}: choose another --port or stop the program using it") from exc
    return port
