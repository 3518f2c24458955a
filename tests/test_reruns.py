"""``cxr rerun``: one notebook, a profile, parameters of one's own (what CI's reruns workflow runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from cxr_lib.errors import ParameterError
from cxr_lib.tooling import book, reruns


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        (None, {}),
        ("max_new_tokens: 64\ncase_sets: [reference]\n", {"max_new_tokens": 64, "case_sets": ["reference"]}),
        ("{languages: [ar], strategies: [structured]}", {"languages": ["ar"], "strategies": ["structured"]}),
    ],
)
def test_parameters_are_a_yaml_mapping(text: str | None, expected: dict) -> None:
    assert reruns.parse_parameters(text) == expected


@pytest.mark.parametrize("text, message", [("[1, 2]", "must be a YAML mapping"), ("64", "must be a YAML mapping"),
                                           ("a: [1", "not valid YAML"), ("{1: 2}", "must be a YAML mapping")])
def test_bad_parameters_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        reruns.parse_parameters(text)


def test_parameters_overlay_the_profile_and_are_checked(tmp_path: Path) -> None:
    project = book.BookProject.at(ROOT)
    offline = book.load_profile(ROOT / "profiles" / "offline.yaml")
    parameters = reruns.rerun_parameters(project, "03_prompting", offline, {"languages": ["de"]}, tmp_path / "results")
    assert parameters["languages"] == ["de"]
    assert parameters["vlm_model"] == os.path.relpath(tmp_path / "results" / "stand_ins", ROOT) + "/medgemma"
    assert parameters["max_new_tokens"] == offline.parameters["03_prompting"]["max_new_tokens"]
    with pytest.raises(ParameterError, match="03_prompting.ipynb: parameter 'languages' must be list"):
        reruns.rerun_parameters(project, "03_prompting", offline, {"languages": "de"}, tmp_path)
    with pytest.raises(ParameterError, match="unknown notebook '04_other'"):
        reruns.rerun_parameters(project, "04_other", offline, {}, tmp_path)


@pytest.mark.slow
def test_rerun_runs_one_notebook_into_its_own_folder(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "arabic"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        [sys.executable, "-m", "cxr_lib", "rerun", "03_prompting", "--root", str(ROOT), "--out", str(out),
         "--parameters", "{cases: [22], strategies: [structured], languages: [en, ar], max_new_tokens: 8}"],
        env=env, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    executed = nbformat.read(out / "03_prompting.ipynb", as_version=4)
    injected = next(cell.source for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", []))
    assert 'languages = ["en", "ar"]' in injected and "cases = [22]" in injected
    assert not [o for cell in executed.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert any((out / "results").rglob("*.json"))  # its records are in its own folder
