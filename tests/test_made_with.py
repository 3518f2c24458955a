"""Records and their keys carry how they were made; older records still load, marked; local models are
named by their content, not their path."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from cxr_lib.analysis.records import LEGACY_SCHEMA, ResultCache, record_key, records_frame
from cxr_lib.analysis.runner import run_reports
from cxr_lib.models.model_names import resolve_model
from cxr_lib.models.vlm import GenerationSettings, load_vlm

CASES = (1, 9, 22)
SETTINGS = GenerationSettings(max_new_tokens=6, batch_size=3)
MADE = {"backend": "in-process", "server": "", "dtype": "float32", "quantization": "none", "attention": "sdpa",
        "device_kind": "cpu"}


@pytest.fixture(scope="module")
def cases(data_dir):
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.data.datasets import load_split

    test = load_split("test")
    return dict(zip(CASES, condition_images(test, CASES, "lanczos", 64, rgb=True))), {i: test.label(i) for i in CASES}


def test_every_part_of_made_with_is_in_the_key():
    args = (22, "lanczos", "m", "rev", "structured", "en", "prompt", {"max_new_tokens": 8}, "h" * 64)
    key = record_key(*args, MADE)
    changed = {record_key(*args, {**MADE, name: "other"}) for name in MADE}
    assert len(changed) == len(MADE) and key not in changed
    assert record_key(*args) != key  # a record without made_with has the old (legacy) key


def test_two_runs_differing_only_in_dtype_or_quantisation_make_two_sets_of_records(stand_in_dir, cases, tmp_path,
                                                                                     monkeypatch):
    images, truths = cases
    results = tmp_path / "results"
    float32 = run_reports(load_vlm(stand_in_dir / "medgemma"), images, truths, condition="lanczos", results_dir=results,
                          settings=SETTINGS, score=False, progress=False)
    bfloat16 = run_reports(load_vlm(stand_in_dir / "medgemma", dtype="bfloat16"), images, truths, condition="lanczos",
                           results_dir=results, settings=SETTINGS, score=False, progress=False)
    assert len(ResultCache(results)) == 2 * len(CASES) and not set(float32["key"]) & set(bfloat16["key"])
    assert {m["dtype"] for m in float32["made_with"]} == {"float32"}
    assert {m["dtype"] for m in bfloat16["made_with"]} == {"bfloat16"}

    # the same model said to be 4-bit (as a small GPU's retry loads it): a third set, not a reuse
    quantised = load_vlm(stand_in_dir / "medgemma")
    monkeypatch.setattr(quantised, "made_with", lambda: {**MADE, "quantization": "bitsandbytes-nf4"})
    asked = []
    original = quantised.generate
    monkeypatch.setattr(quantised, "generate", lambda i, p, s: asked.append(len(i)) or original(i, p, s))
    four_bit = run_reports(quantised, images, truths, condition="lanczos", results_dir=results, settings=SETTINGS,
                           score=False, progress=False)
    assert sum(asked) == len(CASES) and len(ResultCache(results)) == 3 * len(CASES)
    assert {m["quantization"] for m in four_bit["made_with"]} == {"bitsandbytes-nf4"}
    assert (four_bit["configuration"] == "cpu: float32, sdpa attention").all()


def test_records_from_before_still_load_marked_and_are_not_reused(stand_in_dir, cases, tmp_path):
    images, truths = cases
    results = tmp_path / "results"
    vlm = load_vlm(stand_in_dir / "medgemma")
    (fresh,) = run_reports(vlm, {22: images[22]}, truths, condition="lanczos", results_dir=results, settings=SETTINGS,
                           score=False, progress=False).to_dict("records")
    # the same record as the layout before made_with wrote it: schema 2, the old key, no made_with
    cache = ResultCache(results)
    old = replace(cache.get(fresh["key"]), made_with=None, configuration="", score_note="")
    assert old.legacy and old.key != fresh["key"]
    path = cache.put(old)
    assert json.loads(path.read_text())["schema"] == LEGACY_SCHEMA
    loaded = ResultCache(results).get(old.key)
    assert loaded is not None and loaded.legacy and loaded.text == fresh["text"]
    frame = records_frame(ResultCache(results).records())
    assert sorted(frame["legacy"]) == [False, True]
    # a run asks for the record under its own key: the legacy one is there, marked, and never taken for it
    again = run_reports(vlm, {22: images[22]}, truths, condition="lanczos", results_dir=results, settings=SETTINGS,
                        score=False, progress=False)
    assert again["key"].tolist() == [fresh["key"]] and not again["legacy"].any()


def test_a_local_model_is_named_by_its_folder_and_content_not_its_path(stand_in_dir, cases, tmp_path):
    images, truths = cases
    original = resolve_model(stand_in_dir / "medgemma")
    moved = shutil.copytree(stand_in_dir / "medgemma", tmp_path / "elsewhere" / "medgemma")
    copy = resolve_model(moved)
    assert (copy.name, copy.revision) == (original.name, original.revision) == ("medgemma", original.revision)
    assert copy.source == str(moved.resolve()) != original.source
    results = tmp_path / "results"
    first = run_reports(load_vlm(stand_in_dir / "medgemma"), images, truths, condition="lanczos", results_dir=results,
                        settings=SETTINGS, score=False, progress=False)
    relocated = load_vlm(moved, lazy=True)
    again = run_reports(relocated, images, truths, condition="lanczos", results_dir=results, settings=SETTINGS,
                        score=False, progress=False)
    assert not relocated.loaded and again["key"].tolist() == first["key"].tolist()  # the moved checkout's cache holds
    assert not any(str(stand_in_dir) in json.dumps(r.to_dict()) for r in ResultCache(results).records())
    weights = moved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert resolve_model(moved).revision != original.revision
