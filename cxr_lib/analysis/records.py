"""Result records and their on-disk cache: content-addressed, atomic, resumable.

A :class:`Record` is one report for one (case index, image condition, model id and revision, prompt
strategy, language, prompt text, generation settings, image content): the text, its reading
(label, evidence, rule), P(pneumonia) when scored, token counts, stop reason, seconds, and whether
a stand-in produced it. MedGemma 1.5's thought, when it opens one, is kept apart (``thought``,
``thought_state``): ``text`` is the answer only, and an output that never left its thought reads
as uncertain (rule ``thought-only``). :func:`record_key` hashes exactly what determines the output, so a rerun
finds its earlier results and anything changed (a new prompt, another revision, a different image)
is computed afresh.

**How a record was made** (``made_with``): the backend (``in-process``, or ``endpoint`` with the
server's name and version where it reports them), the dtype, the quantisation, the attention
implementation and the device kind. It is part of the key, so a float32 CPU run, a 4-bit retry on a
small GPU and a vLLM run into the same folder make three sets of records, never reuse each other's.
Records written before these were kept (schema 2) still load, with ``made_with`` ``None`` and
``legacy`` true, under their old keys; a run never reuses them, since its keys name how it is made.
``configuration`` is the backend's one-line account of its choices (device, precision, batch limit)
and ``score_note`` says what limited answer scoring (a server's cap on log-probabilities, answer
spellings it did not list); neither is part of the key.

:class:`ResultCache` keeps one JSON file per record, written atomically (:mod:`cxr_lib.storage`):
a killed run leaves whole records or none. Each file carries a checksum of its record; a file that
does not parse or whose checksum does not match is treated as missing (and recomputed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from cxr_lib.analysis.labels import read_report
from cxr_lib.errors import ResultsError
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.thoughts import EndOfOutput
from cxr_lib.storage import atomic_write_json, ensure_writable_dir

#: Bump when the record layout changes: older cache files are then ignored, not misread.
SCHEMA_VERSION = 3  # 3: how a record was made (made_with) in the record and its key
#: The layout before ``made_with``: its files still load, marked legacy (:attr:`Record.legacy`).
LEGACY_SCHEMA = 2  # 2: the thought (thought, thought_state, p_thought) kept apart from the report text
#: What ``made_with`` names, in order.
MADE_WITH_FIELDS = ("backend", "server", "dtype", "quantization", "attention", "device_kind")
#: Label names by the data's integer label (1 = pneumonia).
TRUTH_NAMES = {0: "normal", 1: "pneumonia"}


def _canonical(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def image_sha256(image: Any) -> str:
    """A content hash of an image (NumPy array or PIL image): pixels, shape and dtype."""
    if not isinstance(image, np.ndarray):
        mode = getattr(image, "mode", "")
        image = np.asarray(image)
        prefix = f"pil:{mode}:".encode()
    else:
        prefix = b"np:"
    array = np.ascontiguousarray(image)
    digest = hashlib.sha256(prefix + f"{array.dtype.str}:{array.shape}:".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def record_key(
    index: int | None,
    condition: str,
    model_id: str,
    revision: str | None,
    prompt_strategy: str,
    language: str,
    prompt: str,
    settings: Mapping[str, Any],
    image_sha256: str,
    made_with: Mapping[str, Any] | None = None,
) -> str:
    """The cache key: a SHA-256 of everything that determines a report (``index`` ``None``: an image
    from outside the split, such as an upload to the app), including how it is made (``made_with``;
    ``None`` only for a record written before that was kept: the old key)."""
    payload = {
        "schema": SCHEMA_VERSION if made_with is not None else LEGACY_SCHEMA, "index": None if index is None else int(index),
        "condition": condition, "model_id": model_id, "revision": revision, "prompt_strategy": prompt_strategy,
        "language": language, "prompt": prompt, "settings": dict(settings), "image_sha256": image_sha256,
    }
    if made_with is not None:
        payload["made_with"] = {name: str(made_with.get(name, "") or "") for name in MADE_WITH_FIELDS}
    return hashlib.sha256(_canonical(payload)).hexdigest()


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Record(EndOfOutput):
    """One generated report, how it was made, and how it was read."""

    index: int | None  # the case: its index in the split (None for an image from elsewhere, e.g. an upload)
    condition: str  # the image condition: an upscaler name or "hr"
    truth: int | None  # the data's label, 1 = pneumonia
    model_id: str
    revision: str | None
    stand_in: bool
    prompt_strategy: str
    language: str
    prompt: str
    settings: dict[str, Any]
    image_sha256: str
    text: str
    label: str  # "normal" | "pneumonia" | "uncertain"
    evidence: str
    rule: str
    p_pneumonia: float | None = None
    prompt_tokens: int = 0
    new_tokens: int = 0
    stop_reason: str = "eos"  # "eos" | "max_new_tokens"
    seconds: float = 0.0
    created: str = field(default_factory=now_iso)
    thought: str = ""  # MedGemma 1.5's thought, kept apart: ``text`` is the answer only (cxr_lib.models.thoughts)
    thought_state: str = "none"  # "none" | "closed" | "unclosed" (ended inside its thought)
    p_thought: float | None = None  # answer scoring: P(<unused94>) where the yes/no answer would start
    made_with: dict[str, str] | None = None  # backend, dtype, quantisation, attention, device kind (None: legacy)
    configuration: str = ""  # the backend's one-line account of its device, precision and batch
    score_note: str = ""  # what limited answer scoring, if anything (a server's cap, unlisted spellings)

    @property
    def legacy(self) -> bool:
        """Whether the record was written before records kept how they were made (``made_with``)."""
        return self.made_with is None

    @property
    def key(self) -> str:
        """This record's cache key (:func:`record_key`)."""
        return record_key(self.index, self.condition, self.model_id, self.revision, self.prompt_strategy,
                          self.language, self.prompt, self.settings, self.image_sha256, self.made_with)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_labelled_dict(self) -> dict[str, Any]:
        """:meth:`to_dict`, with ``stand_in_label`` (:data:`~cxr_lib.models.provenance.STAND_IN_LABEL`)
        added to a stand-in's record: the form people are shown (CLI, app, downloads)."""
        payload = self.to_dict()
        if self.stand_in:
            payload["stand_in_label"] = STAND_IN_LABEL
        return payload

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> "Record":
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(payload) - {"p_pneumonia", "prompt_tokens", "new_tokens", "stop_reason", "seconds", "created",
                                          "thought", "thought_state", "p_thought", "made_with", "configuration",
                                          "score_note"}
        if missing:
            raise ValueError(f"record lacks {sorted(missing)}")
        return cls(**{k: v for k, v in payload.items() if k in names})


class ResultCache:
    """Records on disk, one JSON file per key under ``folder``; safe to share between runs."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = ensure_writable_dir(folder)
        self.corrupt: list[Path] = []

    def path(self, key: str) -> Path:
        """Where the record with ``key`` lives."""
        if not isinstance(key, str) or len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ResultsError(f"bad cache key {key!r}: expected a hex SHA-256")
        return self.folder / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether a valid record is stored under ``key``."""
        return self.get(key) is not None

    def __contains__(self, key: str) -> bool:
        return self.has(key)

    def get(self, key: str) -> Record | None:
        """The record stored under ``key``; ``None`` when absent or corrupt (a corrupt file is reported once)."""
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ResultsError(f"cannot read cache file {path} ({exc.strerror}): check its permissions") from exc
        try:
            entry = json.loads(raw.decode("utf-8"))
            payload = entry["record"]
            if entry.get("schema") not in (SCHEMA_VERSION, LEGACY_SCHEMA) or entry.get("key") != key:
                return None
            if entry.get("checksum") != hashlib.sha256(_canonical(payload)).hexdigest():
                raise ValueError("checksum mismatch")
            if entry["schema"] == LEGACY_SCHEMA:
                payload = {k: v for k, v in payload.items() if k != "made_with"}
            record = Record.from_dict(payload)
            if record.key != key:
                raise ValueError("the record does not match its key")
            return record
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            if path not in self.corrupt:
                self.corrupt.append(path)
                warnings.warn(f"corrupt cache entry {path} ({exc}): it will be recomputed", RuntimeWarning, stacklevel=2)
            return None

    def put(self, record: Record) -> Path:
        """Store ``record`` atomically under its key; return the file written."""
        payload = record.to_dict()
        key = record.key
        entry = {"schema": LEGACY_SCHEMA if record.legacy else SCHEMA_VERSION, "key": key,
                 "checksum": hashlib.sha256(_canonical(payload)).hexdigest(), "record": payload}
        return atomic_write_json(self.path(key), entry)

    def keys(self) -> Iterator[str]:
        """Keys of the files present (valid or not)."""
        for path in sorted(self.folder.glob("??/*.json")):
            yield path.stem

    def records(self) -> list[Record]:
        """Every valid record in the cache."""
        return [r for r in (self.get(k) for k in self.keys()) if r is not None]

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())


#: How a reading compares with the data's label (see :func:`outcome`).
OUTCOMES = ("right", "wrong", "abstained")


def outcome(label: str, truth: int | None) -> str | None:
    """The one definition of a correct reading, used by every table in the package.

    ``right`` or ``wrong`` for a clear call (``normal`` / ``pneumonia``) against the data's label,
    ``abstained`` for anything else (an *uncertain* reading, a cut-off report without its verdict);
    ``None`` when the truth is unknown. Only ``right`` is correct: an abstention is never correct,
    and is counted on its own wherever accuracy is reported.
    """
    if truth is None or truth != truth:  # None or NaN
        return None
    if label not in TRUTH_NAMES.values():
        return "abstained"
    return "right" if label == TRUTH_NAMES.get(int(truth)) else "wrong"


#: Columns of :func:`records_frame`, in order.
FRAME_COLUMNS = [
    "index", "condition", "truth", "truth_name", "label", "outcome", "correct", "p_pneumonia", "evidence", "rule", "text",
    "stop_reason", "cut_off", "new_tokens", "prompt_tokens", "seconds", "prompt_strategy", "language", "model_id",
    "revision", "stand_in", "prompt", "settings", "image_sha256", "created", "key",
    "thought_state", "thought_only", "p_thought", "thought", "made_with", "legacy", "configuration", "score_note",
]


def records_frame(records: Iterable[Record]) -> "pd.DataFrame":
    """One row per record (see :data:`FRAME_COLUMNS`).

    ``label``, ``evidence`` and ``rule`` are read again from the text with the current reader and
    the cut-off rule (:func:`cxr_lib.analysis.labels.read_report`), so a record cached by an earlier version
    of the reader is never tabulated with a stale reading. ``outcome`` is :func:`outcome`;
    ``correct`` is ``outcome == "right"`` (an abstention is not correct).
    """
    rows = []
    for record in records:
        row = record.to_dict()
        reading = read_report(record.text, cut_off=record.cut_off, thought_only=record.thought_only)
        row.update(label=reading.label, evidence=reading.evidence, rule=reading.rule)
        row["truth_name"] = TRUTH_NAMES.get(record.truth) if record.truth is not None else None
        row["cut_off"] = record.cut_off
        row["thought_only"] = record.thought_only
        row["outcome"] = outcome(reading.label, record.truth)
        row["correct"] = row["outcome"] == "right"
        row["key"] = record.key
        row["legacy"] = record.legacy
        rows.append(row)
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    return frame
