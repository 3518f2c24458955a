"""Running the VLM over many cases: cached per record, resumable, batched.

:func:`run_reports` shows the model each case's image under one condition with one prompt, reads
each report (:func:`cxr_lib.analysis.labels.read_report`), optionally scores P(pneumonia), and stores one
:class:`~cxr_lib.analysis.records.Record` per case in a :class:`~cxr_lib.analysis.records.ResultCache`. Records
already in the cache are not recomputed, so a rerun is instant and an interrupted run resumes
where it stopped (each batch is written as soon as it is done). A lazily loaded model
(``load_vlm(..., lazy=True)``) is not even loaded when every record is cached. With a server as
the backend (:mod:`cxr_lib.models.endpoint`) the cases are sent ``vlm.concurrency`` at a time and each is
written as soon as its answer is back; the records are the same, and their keys say which backend
made them (``made_with``: :mod:`cxr_lib.analysis.records`).

**Empty answers** are never records: an answer that shows no text (the mark of Gemma 3 run in float16)
is not cached, a few in a row stop the run, and any left at the end stop it too, with one line naming
the likely cause (:mod:`cxr_lib.models.empty_answers`). **The batch** is what the GPU fits
(``vlm.batch_for``: :mod:`cxr_lib.models.device_plan`), at most ``settings.batch_size``; records
carry the batch run.

:func:`report_for_case` is the one-case path behind ``cxr report``.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd

from cxr_lib.analysis.conditions import condition_images
from cxr_lib.analysis.labels import read_report
from cxr_lib.analysis.records import Record, ResultCache, image_sha256, record_key, records_frame
from cxr_lib.data.datasets import load_split
from cxr_lib.errors import EmptyAnswerError, ParameterError
from cxr_lib.models.backends import open_vlm
from cxr_lib.models.empty_answers import EmptyAnswerGuard, empty_answer_message, is_empty_answer
from cxr_lib.models.prefix_reuse import generate_with_shared_prefix
from cxr_lib.models.prompts import build_prompt, language_code
from cxr_lib.models.upscale import CONDITIONS, check_method, model_for
from cxr_lib.models.vlm import GenerationSettings
from cxr_lib.progress import progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.models.vlm import VLM


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _in_turn(run: Any, items: Sequence[Any], vlm: Any, batch_size: int) -> Any:
    """``run(chunk)`` over ``items``: batches of ``batch_size`` one after another for a model in this
    process; for a backend that takes concurrent requests (an endpoint: ``vlm.concurrency`` > 1), one
    item per call, that many calls at once, yielded as each finishes (so each is written at once)."""
    workers = int(getattr(vlm, "concurrency", 1) or 1)
    if workers <= 1:
        for chunk in _chunks(items, batch_size):
            yield run(chunk)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cxr-runner")
    try:
        for future in as_completed([pool.submit(run, [item]) for item in items]):
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _load_before_progress(vlm: "VLM") -> None:
    """Load a lazy in-process model now, so that loading (a download's bar among it) is not drawn inside ours."""
    if hasattr(vlm, "load") and not getattr(vlm, "loaded", True):
        vlm.load()


def _model_revision(vlm: "VLM") -> str | None:
    """The revision to key records by; loads a lazy hub model whose revision is not in the cache."""
    if getattr(vlm, "revision", None) is None and hasattr(vlm, "load") and not getattr(vlm, "loaded", True):
        vlm.load()
    return vlm.revision


def made_with(vlm: Any) -> dict[str, str]:
    """How ``vlm``'s outputs are made (its ``made_with()``), for records and keys; a backend that does
    not say is named by its class."""
    describe = getattr(vlm, "made_with", None)
    if callable(describe):
        return dict(describe())
    return {"backend": type(vlm).__name__, "server": "", "dtype": "", "quantization": "", "attention": "",
            "device_kind": ""}


def fitted(settings: GenerationSettings, vlm: Any) -> GenerationSettings:
    """``settings`` with the batch the backend fits (``vlm.batch_for``), at most the one asked for."""
    fit = getattr(vlm, "batch_for", None)
    batch = fit(settings.batch_size) if callable(fit) else settings.batch_size
    return settings if batch == settings.batch_size else dataclasses.replace(settings, batch_size=int(batch))


def _where(vlm: Any) -> tuple[str, bool]:
    """How an empty-answer line names the backend, and whether it is a server."""
    served = hasattr(vlm, "base_url")
    return (f"the server at {vlm.base_url} ({vlm.model_id})" if served else f"{vlm.model_id}"), served


def make_record(
    vlm: "VLM", revision: str | None, generation: Any, *, index: int | None, condition: str, truth: int | None,
    strategy: str, language: str, prompt: str, settings: dict[str, Any], digest: str, p_pneumonia: float | None = None,
    p_thought: float | None = None, score_note: str = "", made: dict[str, str] | None = None,
) -> Record:
    """A :class:`Record` for one generation: the answer read (never the thought), with how it was made
    (``made``: default :func:`made_with` of ``vlm``). An answer that shows no text is never a record:
    :class:`~cxr_lib.errors.EmptyAnswerError`.

    ``index`` is ``None`` for an image from outside the split (an upload to the app)."""
    if is_empty_answer(generation):
        where, served = _where(vlm)
        raise EmptyAnswerError(empty_answer_message(1, 1, where, () if index is None else (index,), served=served))
    reading = read_report(generation.text, cut_off=generation.stop_reason == "max_new_tokens",
                          thought_only=generation.thought_only)
    return Record(
        index=None if index is None else int(index), condition=condition, truth=None if truth is None else int(truth),
        model_id=vlm.model_id, revision=revision, stand_in=bool(vlm.is_stand_in),
        prompt_strategy=strategy, language=language, prompt=prompt, settings=settings,
        image_sha256=digest, text=generation.text, label=reading.label, evidence=reading.evidence,
        rule=reading.rule, p_pneumonia=None if p_pneumonia is None else float(p_pneumonia),
        prompt_tokens=generation.prompt_tokens, new_tokens=generation.new_tokens,
        stop_reason=generation.stop_reason, seconds=round(generation.seconds, 4),
        thought=generation.thought, thought_state=generation.thought_state,
        p_thought=None if p_thought is None else float(p_thought),
        made_with=made_with(vlm) if made is None else made, configuration=str(getattr(vlm, "configuration", "") or ""),
        score_note=score_note,
    )


def collect_records(
    vlm: "VLM",
    images: Mapping[int, Any],
    truths: Mapping[int, int],
    *,
    condition: str,
    strategy: str = "structured",
    language: str = "en",
    settings: "GenerationSettings | None" = None,
    results_dir: str | os.PathLike,
    score: bool = True,
    prompt: str | None = None,
    progress: bool = True,
) -> list[Record]:
    """The records of :func:`run_reports`, in the order of ``images`` (see there)."""

    settings = settings or GenerationSettings()
    if not isinstance(settings, GenerationSettings):
        raise ParameterError(f"settings must be a GenerationSettings, got {type(settings).__name__}")
    text = build_prompt(strategy, language, custom=prompt)
    language = language_code(language)
    strategy_name = strategy if prompt is None else f"{strategy}+custom"
    cache = ResultCache(results_dir)
    revision = _model_revision(vlm)
    settings = fitted(settings, vlm)
    settings_dict = settings.as_dict()
    made = made_with(vlm)

    found: dict[int, Record] = {}
    todo: list[tuple[int, Any, str]] = []
    for index, image in images.items():
        digest = image_sha256(image)
        key = record_key(int(index), condition, vlm.model_id, revision, strategy_name, language, text, settings_dict, digest,
                         made)
        record = cache.get(key)
        if record is None:
            todo.append((int(index), image, digest))
        else:
            found[int(index)] = record

    if todo:
        _load_before_progress(vlm)
        bar = progress_bar(total=len(todo), desc=f"reports {condition}/{strategy_name}/{language}", unit="report",
                   disable=not progress)
        def run(batch: Sequence[Any]) -> tuple[Sequence[Any], list[Any], list[Any]]:
            batch_images = [image for _, image, _ in batch]
            generations = vlm.generate(batch_images, [text] * len(batch), settings)
            scores = vlm.score_answers(batch_images, batch_size=settings.batch_size) if score else [None] * len(batch)
            return batch, generations, scores

        where, served = _where(vlm)
        guard = EmptyAnswerGuard(where, served=served)
        try:
            for batch, generations, scores in _in_turn(run, todo, vlm, settings.batch_size):
                for (index, _, digest), generation, answer in zip(batch, generations, scores):
                    if guard.empty(index, generation):
                        continue
                    record = make_record(vlm, revision, generation, index=index, condition=condition,
                                         truth=truths.get(index), strategy=strategy_name, language=language,
                                         prompt=text, settings=settings_dict, digest=digest,
                                         p_pneumonia=None if answer is None else answer.p_pneumonia,
                                         p_thought=None if answer is None else answer.p_thought,
                                         score_note="" if answer is None else answer.note, made=made)
                    cache.put(record)
                    found[index] = record
                bar.update(len(batch))
        finally:
            bar.close()
        guard.finish()

    if score:  # cached records made without scoring: add the score, keep the report
        unscored = [i for i in found if found[i].p_pneumonia is None]
        for batch in _chunks(unscored, settings.batch_size):
            for index, answer in zip(batch, vlm.score_answers([images[i] for i in batch], batch_size=settings.batch_size)):
                _add_score(found[index], answer)
                cache.put(found[index])
    return [found[int(index)] for index in images]


def _add_score(record: Record, answer: Any) -> None:
    """Put answer scoring's result (P(pneumonia), P(thought), its note) into a record made without it."""
    record.p_pneumonia = float(answer.p_pneumonia)
    record.p_thought = answer.p_thought
    record.score_note = answer.note


def run_reports(
    vlm: "VLM",
    images: Mapping[int, Any],
    truths: Mapping[int, int],
    *,
    condition: str,
    strategy: str = "structured",
    language: str = "en",
    settings: "GenerationSettings | None" = None,
    results_dir: str | os.PathLike,
    score: bool = True,
    prompt: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Generate, read and (optionally) score a report for each image; one row per case.

    ``images`` maps a case index to its image (NumPy array or PIL image) under ``condition``;
    ``truths`` maps it to the data's label. ``prompt`` replaces the strategy's instruction (the
    strategy is then recorded as ``<strategy>+custom``). Cached records are reused; the missing ones
    are generated in batches of ``settings.batch_size`` and written as each batch finishes.
    Columns: :data:`cxr_lib.analysis.records.FRAME_COLUMNS`.
    """
    return records_frame(collect_records(
        vlm, images, truths, condition=condition, strategy=strategy, language=language, settings=settings,
        results_dir=results_dir, score=score, prompt=prompt, progress=progress,
    ))


def run_prompt_grid(
    vlm: "VLM",
    images: Mapping[int, Any],
    truths: Mapping[int, int],
    *,
    strategies: Sequence[str],
    languages: Sequence[str],
    condition: str,
    settings: "GenerationSettings | None" = None,
    results_dir: str | os.PathLike,
    score: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Every strategy × language on the same images; one row per report (strategy, language, case order).

    The records are those :func:`run_reports` would write (same keys, same cache). The missing
    ones of each image are generated together by :func:`cxr_lib.models.prefix_reuse.generate_with_shared_prefix`
    under greedy decoding — the image is encoded once and each extra prompt costs only its own
    tokens — and one prompt at a time, the ordinary way, when sampling.
    """

    settings = settings or GenerationSettings()
    cache = ResultCache(results_dir)
    revision = _model_revision(vlm)
    settings = fitted(settings, vlm)
    settings_dict = settings.as_dict()
    made = made_with(vlm)
    prompts = [(s, language_code(l), build_prompt(s, l)) for s in strategies for l in languages]
    digests = {int(i): image_sha256(image) for i, image in images.items()}
    key_of = {
        (s, l, i): record_key(i, condition, vlm.model_id, revision, s, l, text, settings_dict, digests[i], made)
        for s, l, text in prompts for i in digests
    }
    found = {k: r for k, key in key_of.items() if (r := cache.get(key)) is not None}
    missing = {i: [(s, l, text) for s, l, text in prompts if (s, l, i) not in found] for i in digests}
    if any(missing.values()):
        _load_before_progress(vlm)
    bar = progress_bar(total=sum(map(len, missing.values())), desc=f"prompt grid {condition}", unit="report", disable=not progress)
    where, served = _where(vlm)
    guard = EmptyAnswerGuard(where, served=served)
    try:
        for index, todo in missing.items():
            if not todo:
                continue
            image = images[index]
            if int(getattr(vlm, "concurrency", 1) or 1) > 1:  # a server: its own prefix cache; each request seeded
                generations = vlm.generate([image] * len(todo), [t for _, _, t in todo], settings)
            elif settings.do_sample:
                generations = [vlm.generate([image], [text], settings)[0] for _, _, text in todo]
            else:
                generations = generate_with_shared_prefix(vlm, image, [t for _, _, t in todo], settings,
                                                          batch_size=settings.batch_size).generations
            for (s, l, text), generation in zip(todo, generations):
                if guard.empty(f"{index} ({s}/{l})", generation):
                    continue
                record = make_record(vlm, revision, generation, index=index, condition=condition, truth=truths.get(index),
                                     strategy=s, language=l, prompt=text, settings=settings_dict, digest=digests[index],
                                     made=made)
                cache.put(record)
                found[(s, l, index)] = record
            bar.update(len(todo))
    finally:
        bar.close()
    guard.finish()
    if score:  # P(pneumonia) depends on the image only
        scores = dict(zip(digests, vlm.score_answers(list(images.values()), batch_size=settings.batch_size)))
        for (s, l, i), record in found.items():
            if record.p_pneumonia is None:
                _add_score(record, scores[i])
                cache.put(record)
    return records_frame([found[(s, l, i)] for s, l, _ in prompts for i in digests])


def report_for_case(
    model: str | None,
    index: int,
    *,
    upscaler: str = "lanczos",
    size: int = 224,
    strategy: str = "structured",
    language: str = "en",
    prompt: str | None = None,
    score: bool = False,
    settings: "GenerationSettings | None" = None,
    results_dir: str | os.PathLike,
    sr_model: str | None = None,
    split: str = "test",
    revision: str | None = None,
    device: str | None = None,
    load_in_4bit: bool = False,
    endpoint: str | None = None,
    backend: str | None = None,
) -> Record:
    """One case's report from ``model`` under one image condition, through the cache (``cxr report``).

    The model loads only when the record is not cached. ``sr_model`` is the model (hub id or folder)
    of an upscaler that has one (default: its own). ``endpoint``: an OpenAI-compatible server's URL
    to ask instead (``model`` is then the name asked for, default the server's); ``backend`` names
    another backend of :data:`cxr_lib.models.backends.BACKENDS`.
    """
    check_method(upscaler, CONDITIONS)
    build_prompt(strategy, language, custom=prompt)  # bad prompts fail before any loading
    data = load_split(split)
    data.position(index)  # an index outside the split fails here, before any loading
    resolver = model_for(upscaler, sr_model) if sr_model is not None and upscaler != "hr" else None
    vlm = open_vlm(model, endpoint=endpoint, backend=backend, revision=revision, device=device, load_in_4bit=load_in_4bit, lazy=True)
    (image,) = condition_images(data, [index], upscaler, size, sr_model=resolver, rgb=True)
    (record,) = collect_records(
        vlm, {index: image}, {index: data.label(index)}, condition=upscaler, strategy=strategy, language=language,
        settings=settings, results_dir=results_dir, score=score, prompt=prompt, progress=False,
    )
    return record
