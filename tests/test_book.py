"""Profiles and papermill parameters: checked before anything runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import BuiltBook

from cxr_lib.errors import CxrError, ModelLoadError, ParameterError
from cxr_lib.tooling import book

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", book.profile_names(ROOT))
def test_shipped_profiles_match_the_notebooks(name: str) -> None:
    profile = book.load_profile(ROOT / "profiles" / f"{name}.yaml")
    subs = {"results": "results/x", "stand_ins": "results/x/stand_ins"}
    for notebook in book.NOTEBOOKS:
        parameters = book.notebook_parameters(profile, notebook, subs)
        book.check_parameters(ROOT / "notebooks" / f"{notebook}.ipynb", parameters)
        assert parameters["results_dir"] == "results/x"
    assert profile.name == name and isinstance(profile.stand_ins, bool)


def test_the_offline_profile_is_the_one_with_stand_ins() -> None:
    shipped = {name: book.load_profile(ROOT / "profiles" / f"{name}.yaml") for name in book.profile_names(ROOT)}
    assert "offline" in shipped and [name for name, profile in shipped.items() if profile.stand_ins] == ["offline"]


def test_notebooks_are_paired_and_thin() -> None:
    for notebook in book.NOTEBOOKS:
        source = (ROOT / "notebooks" / f"{notebook}.py").read_text()
        assert (ROOT / "notebooks" / f"{notebook}.ipynb").is_file()
        assert 'tags=["parameters"]' in source
        assert "\ndef " not in source and "\nclass " not in source
        parameters_cell = source.split('tags=["parameters"]')[1].split("# %%")[0]
        names = [line.split(":")[0].split("=")[0].strip() for line in parameters_cell.splitlines() if line and not line.startswith("#")]
        assert not any("token" in name.lower() and name != "max_new_tokens" for name in names), names


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"max_new_token": 10}, "has no parameter 'max_new_token'"),
        ({"max_new_tokens": "many"}, "'max_new_tokens' must be int, got str"),
        ({"case_sets": "reference"}, "'case_sets' must be list"),
        ({"score": 1}, "'score' must be bool"),
        ({"max_new_tokens": True}, "'max_new_tokens' must be int"),
    ],
)
def test_bad_parameters_are_refused(parameters: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        book.check_parameters(ROOT / "notebooks" / "01_baseline.ipynb", parameters)


def test_optional_parameters_accept_none_and_values() -> None:
    book.check_parameters(ROOT / "notebooks" / "01_baseline.ipynb", {"device": None, "max_cases_per_set": 5, "data_dir": "x"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nbogus: 1\n", "unknown keys"),
        ("parameters:\n  04_missing: {}\n", "unknown notebooks"),
        ("- a list\n", "must be a mapping"),
        ("parameters: {all: [1, 2]}\n", "must be a mapping of parameter names"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_profiles(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=message):
        book.load_profile(path)
    with pytest.raises(ParameterError, match="does not exist"):
        book.load_profile(tmp_path / "missing.yaml")


def test_unreachable_model_stops_before_long_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    with pytest.raises(ModelLoadError, match="make demo"):
        book.check_hub_model("google/medgemma-1.5-4b-it")


def test_make_book_without_models_is_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "cxr_lib", "book", "--root", str(ROOT), "--profile", "full", "--results", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "make demo" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "stand_ins").exists()


@pytest.mark.slow
def test_papermill_parameters_change_what_is_evaluated(stand_in_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    import nbformat
    import papermill

    out = tmp_path / "01.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "01_baseline.ipynb"), str(out), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        parameters={"case_sets": ["reference"], "max_cases_per_set": 3, "vlm_model": str(stand_in_dir / "medgemma"),
                    "device": "cpu", "results_dir": str(tmp_path / "results"), "max_new_tokens": 16},
    )
    outputs = "\n".join(o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/markdown", "")
                        for c in nbformat.read(out, 4).cells for o in c.get("outputs", []) if c.cell_type == "code")
    assert "reference" in outputs and "cnn-false-positives" not in outputs
    assert "The stand-in saw 3 cases here" in outputs and "caps each case set at 3 cases" in outputs
    assert "STAND-IN" in "\n".join(str(o) for c in nbformat.read(out, 4).cells for o in c.get("outputs", []))


def test_execution_key_tracks_notebook_parameters_and_code(tmp_path: Path) -> None:
    import nbformat

    source = ROOT / "notebooks" / "03_prompting.ipynb"
    key = book.execution_key(source, {"seed": 0})
    assert key == book.execution_key(source, {"seed": 0})
    assert key != book.execution_key(source, {"seed": 1})
    assert key != book.execution_key(ROOT / "notebooks" / "01_baseline.ipynb", {"seed": 0})
    target = tmp_path / "executed.ipynb"
    assert not book.is_up_to_date(target, key)
    nbformat.write(nbformat.v4.new_notebook(), target)
    assert not book.is_up_to_date(target, key)
    book.stamp(target, key)
    assert book.is_up_to_date(target, key) and not book.is_up_to_date(target, book.execution_key(source, {"seed": 2}))
    target.write_text("{ not json")
    assert not book.is_up_to_date(target, key)


def test_root_must_be_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="not a checkout of the project"):
        book.BookProject.at(tmp_path)
    result = subprocess.run([sys.executable, "-m", "cxr_lib", "book", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--root" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written into a folder that is not a checkout


def test_profiles_by_name_or_file() -> None:
    project = book.BookProject.at(ROOT)
    assert project.profile_path("offline") == ROOT / "profiles" / "offline.yaml"
    assert project.profile_path("profiles/full.yaml").resolve() == ROOT / "profiles" / "full.yaml"
    assert project.relative(ROOT / "results" / "x") == "results/x"


def test_kernels_start_without_the_warning_that_names_local_paths(monkeypatch) -> None:
    import os
    import subprocess
    import sys

    from cxr_lib.tooling.book import kernel_environment

    monkeypatch.setenv("PYTHONWARNINGS", "default")
    code = "import warnings; warnings.warn('IProgress not found. Please update jupyter and ipywidgets.')"
    with kernel_environment():
        quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert os.environ["PYTHONWARNINGS"] == "default"  # restored
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IProgress" not in quiet.stderr and "IProgress" in loud.stderr


TRANSPORT_CHECK = """
import json, sys, nbformat, papermill
from cxr_lib.tooling.book import kernel_transport
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import json; from ipykernel import get_connection_info; print(json.loads(get_connection_info())['transport'])")])
nbformat.write(notebook, sys.argv[1])
with kernel_transport() as transport:
    if sys.argv[3] == "tcp":
        transport = {}
    papermill.execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", progress_bar=False, **transport)
print(nbformat.read(sys.argv[2], 4).cells[0].outputs[0]["text"].strip())
"""


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_kernels_talk_over_ipc_without_the_tcp_warning(tmp_path: Path, transport: str) -> None:
    # ipykernel warns "Kernel is running over TCP without encryption" whenever transport == "tcp"
    # (ipykernel/kernelapp.py, IPKernelApp.init_sockets); jupyter_client's KernelManager starts TCP kernels
    # unless its ``transport`` trait says "ipc" (jupyter_client/connect.py). The TCP run shows the check bites.
    result = subprocess.run([sys.executable, "-c", TRANSPORT_CHECK, str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                             transport], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == transport
    assert ("without encryption" in result.stderr) is (transport == "tcp"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ipynb", "out.ipynb"]  # no socket files left behind


def test_stand_in_note_counts_what_the_stand_in_saw() -> None:
    from cxr_lib import study

    rows = [(i, condition, True) for i in (1, 9, 22) for condition in ("lanczos", "hr")] + [(39, "lanczos", True)]
    frame = pd.DataFrame(rows, columns=["index", "condition", "stand_in"]).assign(prompt_strategy="structured", language="en")
    capped = study.stand_in_note(frame, max_cases_per_set=3)
    assert capped.startswith("**The stand-in saw 4 cases here** (7 reports on 4 cases, under 2 image conditions and 1 prompt)")
    assert "caps each case set at 3 cases (`max_cases_per_set`)" in capped and "meaningless" in capped
    grid = frame.assign(language=["en", "ar"] * 3 + ["fr"])
    assert "under 2 image conditions and 3 prompts" in study.stand_in_note(grid)
    assert "only the cases its parameters name" in study.stand_in_note(grid)
    assert study.stand_in_note(frame.assign(stand_in=False), max_cases_per_set=3) == ""  # the real model: nothing to say
    assert study.stand_in_note(frame.iloc[:0]) == ""


#: What a first run must not print (the runner's output) or keep (the executed notebooks): deprecation and
#: transport warnings, and the cursor movement of a progress bar drawn inside another ("[A" fragments).
NOISE = re.compile(r"\w*Warning\b|deprecat|without encryption|\x1b\[", re.IGNORECASE)


@pytest.mark.slow
def test_offline_demo_prints_and_keeps_no_warnings(offline_book: BuiltBook) -> None:
    import nbformat

    for log in (offline_book.log, offline_book.warm_log):
        assert NOISE.findall(log) == [], log[-3000:]
    kept = [(path.name, output.get("text", "") + output.get("evalue", ""))
            for path in sorted(offline_book.executed.glob("*.ipynb")) for cell in nbformat.read(path, 4).cells
            for output in cell.get("outputs", []) if output["output_type"] in ("stream", "error")]
    assert kept and [(name, text[:300]) for name, text in kept if NOISE.search(text)] == []
    # one bar per loop of the study: none of the libraries' own (loading or writing a local model folder)
    bars = {line.split(":")[0].strip() for _, text in kept for line in text.replace("\r", "\n").splitlines() if "%|" in line}
    assert any(bar.startswith("reports ") for bar in bars), bars
    assert [bar for bar in bars if bar.startswith(("Loading", "Writing", "Fetching", "Downloading"))] == []


@pytest.mark.slow
def test_offline_demo_times_each_step_and_reruns_warm(offline_book: BuiltBook) -> None:
    cold, warm = offline_book.timings, offline_book.warm_timings
    assert cold["profile"] == "offline" and set(cold["steps"]) == {"stand_ins", *book.NOTEBOOKS, "book"}
    at_once = book.load_profile(ROOT / "profiles" / "offline.yaml").notebooks_at_once
    assert cold["notebooks_at_once"] == at_once
    alone = ["stand_ins", "book", *(book.NOTEBOOKS if at_once == 1 else ())]  # CPU seconds are a step's own only alone
    assert all(cold["steps"][name]["cpu_seconds"] > 0 for name in alone), cold
    assert all(step["seconds"] > 0 for step in cold["steps"].values()), cold
    notebooks = [cold["steps"][name]["seconds"] for name in book.NOTEBOOKS]
    assert cold["seconds"] >= cold["steps"]["stand_ins"]["seconds"] + cold["steps"]["book"]["seconds"] + max(notebooks)
    assert cold["cpu_seconds"] > 0
    assert cold["machine"]["processors"] >= 1 and len(cold["machine"]["load_average_before"]) == 3
    # nothing changed: no stand-in built, no notebook run, the book not rebuilt
    assert set(warm["steps"]) == {"book"}, warm
    assert all(f"{name} is up to date" in offline_book.warm_log for name in book.NOTEBOOKS)
    assert "book is up to date" in offline_book.warm_log
    assert warm["seconds"] < cold["steps"]["book"]["seconds"] < cold["seconds"]


@pytest.mark.slow
def test_every_page_says_how_many_cases_the_stand_in_saw(offline_book: BuiltBook) -> None:
    import nbformat

    for name in book.NOTEBOOKS:
        shown = "".join(output.get("data", {}).get("text/markdown", "")
                        for cell in nbformat.read(offline_book.executed / f"{name}.ipynb", 4).cells
                        for output in cell.get("outputs", []))
        found = re.search(r"\*\*The stand-in saw (\d+) cases? here\*\* \((\d+) reports?", shown)
        assert found, name
        cases, reports = map(int, found.groups())
        assert 0 < cases <= reports
        cap = book.load_profile(ROOT / "profiles" / "offline.yaml").parameters.get(name, {}).get("max_cases_per_set")
        assert (f"caps each case set at {cap} case" in shown) if cap else ("only the cases its parameters name" in shown)


def test_the_performance_pages_demo_table_comes_from_the_measured_file() -> None:
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("time_demo", ROOT / "tools" / "time_demo.py")
    time_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(time_demo)
    measured = json.loads((ROOT / "book" / "demo_timings.json").read_text())
    table = time_demo.table(measured)
    assert (ROOT / "book" / "demo_timings.md").read_text() == table  # refreshed with `tools/time_demo.py table`
    assert "{include} demo_timings.md" in (ROOT / "book" / "performance.md").read_text()
    steps = measured["demo_cold"]["runner"]["steps"]
    assert set(steps) == {"stand_ins", *book.NOTEBOOKS, "book"}  # a cold run: every step ran
    for name in book.NOTEBOOKS:
        assert time_demo.step_time(name, steps[name]) in table and f"{name} {steps[name]['seconds']:.0f} s" in table
    assert set(measured["demo_warm"]["runner"]["steps"]) <= {"book"}  # the warm run: nothing executed again


def _timed_notebook(name: str, fails: bool) -> "object":
    """A two-cell notebook: parameters, then one cell that records when it ran (and fails, if asked)."""
    import nbformat

    parameters = nbformat.v4.new_code_cell('results_dir: str = "results"\nrepository: "Optional[str]" = None',
                                           metadata={"tags": ["parameters"]})
    work = nbformat.v4.new_code_cell(
        "import pathlib, time\n"
        "folder = pathlib.Path(results_dir)\nfolder.mkdir(parents=True, exist_ok=True)\n"
        f"(folder / '{name}.start').write_text(repr(time.time()))\ntime.sleep(4)\n"
        f"(folder / '{name}.end').write_text(repr(time.time()))\n"
        + ("raise ValueError('broken on purpose')\n" if fails else ""))
    return nbformat.v4.new_notebook(cells=[parameters, work], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def test_notebooks_at_once_overlap_and_a_failure_stops_none_of_the_others(tmp_path: Path) -> None:
    import nbformat

    for name in ("_config.yml", "_toc.yml"):
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_timed_notebook("01_baseline", fails=False), tmp_path / "notebooks" / "01_baseline.ipynb")
    nbformat.write(_timed_notebook("03_prompting", fails=True), tmp_path / "notebooks" / "03_prompting.ipynb")
    (tmp_path / "profile.yaml").write_text("name: two\nstand_ins: false\nnotebooks_at_once: 2\n"
                                           "parameters:\n  all:\n    results_dir: '{results}'\n")
    profile = book.load_profile(tmp_path / "profile.yaml")
    project, results, timings = book.BookProject.at(tmp_path), tmp_path / "results", {}
    with pytest.raises(CxrError, match=r"notebook 03_prompting failed in cell \d+: ValueError: broken on purpose"):
        book.execute_notebooks(project, profile, results, notebooks=("01_baseline", "03_prompting"), timings=timings)
    moments = {name: [float((results / f"{name}.{edge}").read_text()) for edge in ("start", "end")]
               for name in ("01_baseline", "03_prompting")}
    assert max(start for start, _ in moments.values()) < min(end for _, end in moments.values())  # both ran at once
    executed = nbformat.read(project.executed_dir / "01_baseline.ipynb", 4)
    assert executed.metadata.get(book.EXECUTION_KEY)  # the one that finished is stamped, so a rerun skips it
    assert not nbformat.read(project.executed_dir / "03_prompting.ipynb", 4).metadata.get(book.EXECUTION_KEY)
    assert timings["01_baseline"]["seconds"] >= 4 and timings["01_baseline"]["cpu_seconds"] is None  # CPU: the run's only


@pytest.mark.parametrize("value", ["0", "two", "true", "1.5"])
def test_notebooks_at_once_is_a_whole_number(tmp_path: Path, value: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(f"name: x\nnotebooks_at_once: {value}\n")
    with pytest.raises(ParameterError, match="notebooks_at_once"):
        book.load_profile(path)
    path.write_text("name: x\n")
    assert book.load_profile(path).notebooks_at_once == 1  # a real model: one notebook at a time
