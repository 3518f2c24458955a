"""Records, their content-addressed keys and the on-disk cache."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cxr_lib.analysis.records import FRAME_COLUMNS, Record, ResultCache, image_sha256, record_key, records_frame
from cxr_lib.errors import ResultsError

SETTINGS = {"max_new_tokens": 1024, "do_sample": False, "temperature": 1.0, "top_p": 1.0, "seed": 0,
            "batch_size": 4, "min_new_tokens": None}


def make_record(**changes) -> Record:
    base = Record(
        index=22, condition="lanczos", truth=1, model_id="google/medgemma-1.5-4b-it", revision="a" * 40,
        stand_in=False, prompt_strategy="structured", language="en", prompt="Examine this chest X-ray.",
        settings=dict(SETTINGS), image_sha256="b" * 64, text="Clear lungs.\nFinal answer: NORMAL",
        label="normal", evidence="Final answer: NORMAL", rule="final-answer", p_pneumonia=0.2,
        prompt_tokens=300, new_tokens=12, stop_reason="eos", seconds=1.5,
    )
    return replace(base, **changes)


def test_key_depends_on_everything_that_determines_the_report():
    args = (22, "lanczos", "m", "rev", "structured", "en", "prompt", SETTINGS, "h" * 64)
    key = record_key(*args)
    assert key == record_key(*args) and len(key) == 64
    variants = [
        (23,) + args[1:], args[:1] + ("swin2sr",) + args[2:], args[:2] + ("m2",) + args[3:],
        args[:3] + ("rev2",) + args[4:], args[:4] + ("reference",) + args[5:], args[:5] + ("ar",) + args[6:],
        args[:6] + ("prompt!",) + args[7:], args[:7] + ({**SETTINGS, "max_new_tokens": 10},) + args[8:],
        args[:8] + ("i" * 64,),
    ]
    assert len({record_key(*v) for v in variants} | {key}) == len(variants) + 1
    # the outputs (text, reading, timing) are not part of the key
    assert make_record().key == make_record(text="other", seconds=9.0, label="uncertain").key


def test_image_hash():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    assert image_sha256(a) == image_sha256(a.copy()) != image_sha256(b)
    assert image_sha256(a) != image_sha256(a.astype(np.int16))
    from PIL import Image

    assert image_sha256(Image.fromarray(a)) == image_sha256(Image.fromarray(a.copy()))


def test_put_get_has(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    record = make_record()
    assert cache.get(record.key) is None and not cache.has(record.key)
    path = cache.put(record)
    assert path.is_file() and path.parent.parent == tmp_path / "cache"
    assert cache.get(record.key) == record and record.key in cache and len(cache) == 1
    assert cache.records() == [record]
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # atomic write left no temporary file


@pytest.mark.parametrize("damage", ["garbage", "truncate", "tamper", "empty"])
def test_corrupt_entries_are_missing(tmp_path, damage):
    cache = ResultCache(tmp_path)
    record = make_record()
    path = cache.put(record)
    raw = path.read_text()
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "truncate":
        path.write_text(raw[: len(raw) // 2])
    elif damage == "tamper":  # valid JSON, but the record no longer matches its checksum
        entry = json.loads(raw)
        entry["record"]["label"] = "pneumonia"
        path.write_text(json.dumps(entry))
    else:
        path.write_text("")
    with pytest.warns(RuntimeWarning, match="corrupt cache entry"):
        assert cache.get(record.key) is None
    assert not cache.has(record.key)
    cache.put(record)  # recomputing overwrites it
    assert cache.get(record.key) == record


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultsError) as info:
        ResultCache(blocker / "cache")
    assert "\n" not in str(info.value)


def test_frame():
    records = [make_record(),
               make_record(index=1, truth=0, text="Right lower lobe consolidation.", label="pneumonia",
                           stop_reason="max_new_tokens"),
               make_record(index=9, truth=0, label="uncertain", p_pneumonia=None),
               make_record(index=5, truth=0, text="Impression: no pneumonia. Note that", stop_reason="max_new_tokens")]
    frame = records_frame(records)
    assert list(frame.columns) == FRAME_COLUMNS
    assert frame["index"].tolist() == [22, 1, 9, 5]
    # read again from the text: a stale stored label does not survive; a cut-off report without its
    # verdict is an abstention, one that had concluded keeps its reading
    assert frame["label"].tolist() == ["normal", "uncertain", "normal", "normal"]
    assert frame["rule"].tolist()[1] == "cut-off"
    assert frame["outcome"].tolist() == ["wrong", "abstained", "right", "right"]
    assert frame["correct"].tolist() == [False, False, True, True]
    assert frame["cut_off"].tolist() == [False, True, False, True]
    assert frame["truth_name"].tolist() == ["pneumonia", "normal", "normal", "normal"]
    assert frame["key"].tolist() == [r.key for r in records]
    assert records_frame([]).empty
