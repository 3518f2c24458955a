"""Profiles and papermill parameters: checked before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cxr_lib.errors import ModelLoadError, ParameterError
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
        parameters={"case_sets": ["reference"], "vlm_model": str(stand_in_dir / "medgemma"), "device": "cpu",
                    "results_dir": str(tmp_path / "results"), "max_new_tokens": 16},
    )
    outputs = "\n".join(o.get("data", {}).get("text/plain", "") for c in nbformat.read(out, 4).cells
                        for o in c.get("outputs", []) if c.cell_type == "code")
    assert "reference" in outputs and "cnn-false-positives" not in outputs
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
