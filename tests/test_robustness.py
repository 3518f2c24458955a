"""Faults and secrets, tried end to end: killed runs, unwritable folders, a token in the
environment, and two offline demo runs that must write the same records."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAKE_TOKEN, ROOT, BuiltBook, run_book

from cxr_lib.analysis.records import ResultCache

CASES = [1, 9, 22, 39, 44, 61, 67, 68]

RUN_SCRIPT = """
import sys
from cxr_lib.data.datasets import load_split
from cxr_lib.analysis.runner import run_reports
from cxr_lib.analysis.conditions import condition_images
from cxr_lib.models.vlm import GenerationSettings, load_vlm
cases = [int(c) for c in sys.argv[3].split(",")]
test = load_split("test")
images = dict(zip(cases, condition_images(test, cases, "lanczos", 224, rgb=True)))
run_reports(load_vlm(sys.argv[1]), images, {i: test.label(i) for i in cases}, condition="lanczos",
            settings=GenerationSettings(max_new_tokens=40, batch_size=1), results_dir=sys.argv[2], score=True, progress=False)
print("finished")
"""


def run_child(model: Path, results: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, str(model), str(results), ",".join(map(str, CASES))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def record_files(results: Path) -> list[Path]:
    return sorted(p for p in results.rglob("*.json") if not p.name.startswith("."))


@pytest.mark.slow
def test_killed_at_random_points_then_rerun_completes_once(stand_in_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "records"
    rng = random.Random(7)
    model = stand_in_dir / "medgemma"
    for _ in range(3):
        child = run_child(model, results)
        before = len(record_files(results))
        deadline = time.time() + 120
        while time.time() < deadline and child.poll() is None and len(record_files(results)) <= before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere inside the next record
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
        cache = ResultCache(results)
        assert all(cache.get(key) is not None for key in cache.keys())  # nothing half-written
        assert not list(results.rglob("*.tmp"))
    finished = run_child(model, results)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err.decode()[-2000:]
    records = ResultCache(results).records()
    assert sorted(r.index for r in records) == sorted(CASES)  # every case exactly once
    assert all(r.p_pneumonia is not None for r in records)


@pytest.mark.parametrize("make_target", ["file-as-folder", "under-a-file"])
def test_unusable_results_folder_is_one_line(stand_in_dir: Path, data_dir: Path, tmp_path: Path, make_target: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker if make_target == "file-as-folder" else blocker / "results"
    result = subprocess.run([sys.executable, "-m", "cxr_lib", "report", "--index", "22", "--model", str(stand_in_dir / "medgemma"),
                             "--results", str(target)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker) in lines[0] and "Traceback" not in result.stderr, result.stderr


def comparable_records(results: Path) -> dict[tuple, dict]:
    """Records by what they describe; the stand-ins' folder (in model_id) differs between runs,
    their content fingerprint (revision) must not."""
    records = {}
    for path in results.rglob("*.json"):
        payload = json.loads(path.read_text())
        if isinstance(payload, dict) and isinstance(payload.get("record"), dict) and "image_sha256" in payload["record"]:
            record = payload["record"]
            identity = (record["index"], record["condition"], record["prompt_strategy"], record["language"],
                        record["revision"], json.dumps(record["settings"], sort_keys=True))
            records[identity] = {k: v for k, v in record.items() if k not in ("seconds", "created", "model_id")}
    return records


def records_only(profile: Path, target: Path) -> Path:
    """``profile`` with the real computations that write no records cut short (fidelity on a few images, the
    reader on the real originals only): the VLM's cases, conditions and settings, and so its records, unchanged."""
    import yaml

    payload = yaml.safe_load(profile.read_text())
    payload["parameters"]["02_super_resolution"].update(
        fidelity_limit=4, fidelity_spot_check=1, reader_inputs=["hr"], reader_spot_check=1)
    target.write_text(yaml.safe_dump(payload))
    return target


@pytest.mark.slow
def test_offline_demo_keeps_no_secret_and_is_deterministic(offline_book: BuiltBook, tmp_path: Path) -> None:
    written = [p for folder in (offline_book.results, offline_book.executed, offline_book.html)
               for p in folder.rglob("*") if p.is_file()]
    assert len(written) > 50
    leaked = [p for p in written if FAKE_TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    # a second run from scratch (new stand-ins, empty results) must write the same records
    second = offline_book.root / "results" / "second"
    profile = records_only(offline_book.root / "profiles" / "offline.yaml", tmp_path / "records_only.yaml")
    finished = run_book(offline_book.root, second, offline_book.env, "--no-book", "--force", profile=profile)
    assert finished.returncode == 0, finished.stderr[-3000:]
    a, b = comparable_records(offline_book.results), comparable_records(second)
    assert len(a) > 20 and a.keys() == b.keys()
    assert all(a[name] == b[name] for name in a)
