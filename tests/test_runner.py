"""The report runner (cache hits, resume after a kill, corrupt entries) and the ``cxr report`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cxr_lib.analysis.records import ResultCache
from cxr_lib.analysis.runner import run_prompt_grid, run_reports
from cxr_lib.cli import main
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.vlm import GenerationSettings, load_vlm

ROOT = Path(__file__).resolve().parents[1]
CASES = (1, 9, 22, 39, 44, 61)
SETTINGS = GenerationSettings(max_new_tokens=30, batch_size=2)


@pytest.fixture(scope="module")
def test_split(data_dir):
    from cxr_lib.data.datasets import load_split

    return load_split("test")


@pytest.fixture(scope="module")
def cases(test_split):
    from cxr_lib.analysis.conditions import condition_images

    images = dict(zip(CASES, condition_images(test_split, CASES, "lanczos", 64, rgb=True)))
    truths = {i: test_split.label(i) for i in CASES}
    return images, truths


def counting(vlm, monkeypatch):
    """Count the images ``vlm.generate`` is asked for."""
    calls = []
    original = vlm.generate

    def generate(images, prompts, settings=None):
        calls.append(len(images))
        return original(images, prompts, settings)

    monkeypatch.setattr(vlm, "generate", generate)
    return calls


def test_run_then_cache_hit(stand_in_dir, cases, tmp_path, monkeypatch):
    images, truths = cases
    vlm = load_vlm(stand_in_dir / "medgemma")
    frame = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=True)
    assert frame["index"].tolist() == list(CASES) and frame["stand_in"].all()
    assert frame["label"].isin(["normal", "pneumonia", "uncertain"]).all()
    assert frame["p_pneumonia"].between(0, 1).all() and frame["truth"].tolist() == [truths[i] for i in CASES]
    assert set(frame["stop_reason"]) <= {"eos", "max_new_tokens"}
    assert len(ResultCache(tmp_path)) == len(CASES)

    lazy = load_vlm(stand_in_dir / "medgemma", lazy=True)
    again = run_reports(lazy, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=True)
    assert not lazy.loaded  # every record came from the cache: the model was never loaded
    assert again.drop(columns=[]).equals(frame)

    # anything that changes the report is a cache miss
    calls = counting(vlm, monkeypatch)
    run_reports(vlm, images, truths, condition="bicubic", settings=SETTINGS, results_dir=tmp_path, score=False)
    run_reports(vlm, images, truths, condition="lanczos", language="fr", settings=SETTINGS, results_dir=tmp_path, score=False)
    assert sum(calls) == 2 * len(CASES)


def test_scores_added_to_cached_reports(stand_in_dir, cases, tmp_path, monkeypatch):
    images, truths = cases
    vlm = load_vlm(stand_in_dir / "medgemma")
    first = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=False)
    assert first["p_pneumonia"].isna().all()
    calls = counting(vlm, monkeypatch)
    second = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=True)
    assert calls == [] and second["p_pneumonia"].between(0, 1).all()
    assert second["text"].tolist() == first["text"].tolist()


def test_corrupt_entry_is_recomputed(stand_in_dir, cases, tmp_path, monkeypatch):
    images, truths = cases
    vlm = load_vlm(stand_in_dir / "medgemma")
    frame = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=False)
    cache = ResultCache(tmp_path)
    victim = cache.path(frame["key"].iloc[2])
    victim.write_text(victim.read_text()[:40])
    calls = counting(vlm, monkeypatch)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        again = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=False)
    assert calls == [1]
    assert again["text"].tolist() == frame["text"].tolist()
    assert ResultCache(tmp_path).get(frame["key"].iloc[2]) is not None


KILLED_RUN = textwrap.dedent("""
    import sys, time
    from cxr_lib.data.datasets import load_split
    from cxr_lib.analysis.runner import run_reports
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.models.vlm import GenerationSettings, load_vlm

    model, results = sys.argv[1], sys.argv[2]
    cases = [int(c) for c in sys.argv[3].split(",")]
    test = load_split("test")
    images = dict(zip(cases, condition_images(test, cases, "lanczos", 64, rgb=True)))
    vlm = load_vlm(model)
    generate = vlm.generate
    def slow(*args, **kwargs):  # a slow model: time for the parent to kill us midway
        out = generate(*args, **kwargs)
        time.sleep(0.4)
        return out
    vlm.generate = slow
    run_reports(vlm, images, {c: test.label(c) for c in cases}, condition="lanczos",
                settings=GenerationSettings(max_new_tokens=30, batch_size=1), results_dir=results, score=False)
""")


def test_resume_after_a_killed_run(stand_in_dir, cases, tmp_path, monkeypatch):
    images, truths = cases
    results = tmp_path / "results"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(stand_in_dir / "medgemma"), str(results), ",".join(map(str, CASES))],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None and len(list(results.glob("??/*.json"))) < 2:
        time.sleep(0.02)
    assert child.poll() is None, child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    done = len(list(results.glob("??/*.json")))
    assert 2 <= done < len(CASES)

    settings = GenerationSettings(max_new_tokens=30, batch_size=1)
    vlm = load_vlm(stand_in_dir / "medgemma")
    calls = counting(vlm, monkeypatch)
    frame = run_reports(vlm, images, truths, condition="lanczos", settings=settings, results_dir=results, score=False)
    assert sum(calls) == len(CASES) - done  # only the missing records were generated
    assert frame["index"].tolist() == list(CASES) and frame["key"].is_unique
    assert len(list(results.glob("??/*.json"))) == len(CASES)  # each record once
    fresh = run_reports(vlm, images, truths, condition="lanczos", settings=settings, results_dir=tmp_path / "fresh", score=False)
    assert frame["text"].tolist() == fresh["text"].tolist()


def test_one_bar_per_run_and_no_cursor_moves(stand_in_dir, cases, tmp_path, capsys):
    images, truths = cases
    two = {i: images[i] for i in CASES[:2]}
    lazy = load_vlm(stand_in_dir / "medgemma", lazy=True)  # loads inside the run, as in the notebooks
    run_reports(lazy, two, truths, condition="lanczos", settings=SETTINGS, results_dir=tmp_path, score=False)
    run_prompt_grid(load_vlm(stand_in_dir / "medgemma", lazy=True), two, truths, strategies=["reference"],
                    languages=["en"], condition="lanczos", settings=SETTINGS, results_dir=tmp_path / "grid")
    err = capsys.readouterr().err
    # a bar drawn inside another moves the cursor up (ESC [A): kept output shows "[A" fragments
    assert "\x1b[A" not in err and "Loading weights" not in err, err
    bars = {line.split(":")[0].strip() for line in err.replace("\r", "\n").splitlines() if "%|" in line}
    assert bars == {"reports lanczos/structured/en", "prompt grid lanczos"}, err


def test_prompt_grid(stand_in_dir, cases, tmp_path):
    images, truths = cases
    two = {i: images[i] for i in CASES[:2]}
    frame = run_prompt_grid(load_vlm(stand_in_dir / "medgemma"), two, truths, strategies=["reference", "structured"],
                            languages=["en", "ar"], condition="lanczos", settings=SETTINGS, results_dir=tmp_path)
    assert len(frame) == 8 and frame.groupby(["prompt_strategy", "language"]).size().eq(2).all()
    assert frame[frame["language"] == "ar"]["prompt"].str.contains("Please answer in Arabic").all()


# --------------------------------------------------------------------------- the command
def cxr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cxr_lib", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_cli_report_end_to_end_then_cached(stand_in_dir, data_dir, tmp_path):
    token = "hf_FAKEtoken0123456789abcdefXYZ"
    args = ["report", "--index", "22", "--model", str(stand_in_dir / "medgemma"), "--score", "--results", str(tmp_path),
            "--max-new-tokens", "64"]
    started = time.perf_counter()
    first = cxr(*args, env={"HF_TOKEN": token})
    cold = time.perf_counter() - started
    assert first.returncode == 0, first.stderr
    assert STAND_IN_LABEL in first.stdout and "--- reading ---" in first.stdout and "P(pneumonia)" in first.stdout
    assert "case 22" in first.stdout and "truth: pneumonia" in first.stdout
    started = time.perf_counter()
    second = cxr(*args, env={"HF_TOKEN": token})
    warm = time.perf_counter() - started
    assert second.returncode == 0 and second.stdout == first.stdout
    assert warm < cold
    as_json = cxr(*args, "--json", env={"HF_TOKEN": token})
    assert '"stand_in": true' in as_json.stdout and '"stand_in_label"' in as_json.stdout
    # the token is never written anywhere
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace")
    assert all(token not in out for out in (first.stdout, first.stderr, as_json.stdout))


@pytest.mark.parametrize("extra, expected", [
    (["--prompt", "chain-of-thought"], "unknown prompt strategy"),
    (["--language", "klingon"], "unknown language"),
    (["--custom-prompt", "  "], "prompt is empty"),
    (["--max-new-tokens", "0"], "max_new_tokens"),
    (["--sample", "--temperature", "0"], "temperature"),
    (["--upscaler", "magic"], "magic"),
    (["--index", "99999"], "out of range"),
    (["--model", "/no/such/folder"], "does not exist"),
    (["--model", "SWIN"], "not an image-text-to-text model"),
])
def test_cli_bad_input_is_one_line(stand_in_dir, data_dir, tmp_path, capsys, extra, expected):
    args = ["report", "--index", "22", "--model", str(stand_in_dir / "medgemma"), "--results", str(tmp_path)]
    extra = [str(stand_in_dir / "swin2sr") if e == "SWIN" else e for e in extra]
    assert main(args + extra) == 2  # a repeated option: argparse keeps the last value
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cxr: error: ") and expected in lines[0], captured.err
    assert "Traceback" not in captured.err


def test_cli_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    result = cxr("report", "--index", "22", "--model", str(tmp_path / "missing"), "--results", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("cxr: error:") and len(result.stderr.strip().splitlines()) == 1


def test_prompt_grid_with_prefix_reuse_matches_run_reports(stand_in_dir, cases, tmp_path):
    images, truths = cases
    two = {i: images[i] for i in CASES[:2]}
    vlm = load_vlm(stand_in_dir / "medgemma")
    grid = run_prompt_grid(vlm, two, truths, strategies=["reference", "structured", "radiologist"], languages=["en", "ar"],
                           condition="lanczos", settings=SETTINGS, results_dir=tmp_path / "grid")
    for (strategy, language), rows in grid.groupby(["prompt_strategy", "language"]):
        plain = run_reports(vlm, two, truths, condition="lanczos", strategy=strategy, language=language, settings=SETTINGS,
                            results_dir=tmp_path / "plain", score=False)
        assert rows["text"].tolist() == plain["text"].tolist(), (strategy, language)
        assert rows["key"].tolist() == plain["key"].tolist()  # the same records, whichever path made them


# --------------------------------------------------------------------------- at the full profile's scale
class CountingModel:
    """A fast in-process backend with the VLM's interface (``model_id``, ``revision``, ``is_stand_in``,
    ``loaded``, ``generate``, ``score_answers``): a report and a score from each image's pixels, and a
    count of what it was asked. Lets the runner's caching and resuming be tested at the full profile's
    scale (the whole test split), which the stand-in would take minutes for."""

    model_id, revision, is_stand_in, loaded = "counting-model", "v1", True, True

    def __init__(self, fail_after: int | None = None) -> None:
        self.generated: list[int] = []
        self.scored: list[int] = []
        self.fail_after = fail_after

    def generate(self, images, prompts, settings=None):
        from cxr_lib.models.vlm import Generation

        if self.fail_after is not None and len(self.generated) >= self.fail_after:
            raise KeyboardInterrupt  # the run is stopped midway
        self.generated += [len(images)]
        words = ["No evidence of pneumonia.", "Findings consistent with pneumonia."]
        return [Generation(words[int(image.mean()) % 2], "eos", 6, 280, 0.0) for image in images]

    def score_answers(self, images, batch_size=8):
        from cxr_lib.models.vlm import AnswerScore

        self.scored += [len(images)]
        return [AnswerScore(float(image.mean()) / 255.0, None) for image in images]


def test_the_whole_split_resumes_and_reruns_from_the_cache(test_split, tmp_path):
    from cxr_lib.analysis.conditions import condition_images

    indices = [int(i) for i in test_split.indices]
    assert len(indices) >= 600  # the scale of the full profile's runs (the review alone sends ~160 cases)
    images = dict(zip(indices, condition_images(test_split, indices, "lanczos", 32, rgb=True)))
    truths = {i: test_split.label(i) for i in indices}
    settings = GenerationSettings(max_new_tokens=30, batch_size=8)
    run = dict(condition="lanczos", settings=settings, results_dir=tmp_path, score=True, progress=False)

    stopped = CountingModel(fail_after=40)  # 320 reports written, then interrupted
    with pytest.raises(KeyboardInterrupt):
        run_reports(stopped, images, truths, **run)
    assert len(ResultCache(tmp_path)) == 40 * 8  # every finished batch is on disk, nothing else

    resumed = CountingModel()
    started = time.perf_counter()
    frame = run_reports(resumed, images, truths, **run)
    cold = time.perf_counter() - started
    assert sum(resumed.generated) == len(indices) - 320  # only the missing reports
    assert frame["index"].tolist() == indices and frame["key"].is_unique and frame["p_pneumonia"].notna().all()
    assert len(ResultCache(tmp_path)) == len(indices)

    again = CountingModel()
    started = time.perf_counter()
    rerun = run_reports(again, images, truths, **run)
    warm = time.perf_counter() - started
    assert again.generated == [] and again.scored == []  # all of it from the cache
    assert rerun.drop(columns="seconds").equals(frame.drop(columns="seconds"))
    print(f"{len(indices)} records: resumed run {cold:.2f} s, rerun from the cache {warm:.2f} s")
    assert warm < 30  # reading ~600 records is not generating them (generous: the machine may be busy)
