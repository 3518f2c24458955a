"""The package installed as a user installs it (a wheel, outside any checkout) runs a notebook.

A Colab user has only what the wheel holds: the committed CNN predictions must come with it and be
found from any working folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import FAKE_TOKEN, copy_project

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert finished.returncode == 0, f"{' '.join(command)}\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    return finished


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(project copy, folder the wheel was installed into, environment that uses it)."""
    base = tmp_path_factory.mktemp("install")
    project = copy_project(base / "project")
    wheels, site = base / "wheels", base / "site"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(project)],
        cwd=base, env=env)
    (wheel,) = wheels.glob("cxr_lib-*.whl")
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], cwd=base, env=env)
    user_env = {**env, "PYTHONPATH": str(site), "HF_TOKEN": FAKE_TOKEN}
    return project, site, user_env


def test_the_wheel_holds_the_committed_artifacts(installed: tuple[Path, Path, dict[str, str]]) -> None:
    project, site, env = installed
    names = {p.relative_to(site).as_posix() for p in (site / "cxr_lib" / "artifacts").rglob("*") if p.is_file()}
    expected = {p.relative_to(project).as_posix() for p in (project / "cxr_lib" / "artifacts").rglob("*") if p.is_file()}
    assert expected and names == expected


def test_the_installed_package_is_the_one_imported(installed: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    _, site, env = installed
    code = "import cxr_lib.data.artifacts as a; print(a.locate('artifacts/baseline/predictions_test.csv'))"
    path = Path(run([sys.executable, "-c", code], cwd=tmp_path, env=env).stdout.strip())
    assert path.is_file() and site in path.parents


def test_notebook_1_runs_from_another_folder(installed: tuple[Path, Path, dict[str, str]], tmp_path: Path,
                                             data_dir: Path) -> None:
    project, site, env = installed
    run([sys.executable, "-m", "cxr_lib", "stand-ins", str(tmp_path / "stand_ins")], cwd=tmp_path, env=env)
    executed = tmp_path / "01_baseline.ipynb"
    parameters = {"vlm_model": str(tmp_path / "stand_ins" / "medgemma"), "results_dir": str(tmp_path / "results"),
                  "device": "cpu", "case_sets": ["reference"], "correct_sample_size": 4, "max_new_tokens": 8,
                  "score": False}
    (tmp_path / "parameters.json").write_text(json.dumps(parameters))  # JSON is YAML
    run([sys.executable, "-m", "papermill", str(project / "notebooks" / "01_baseline.ipynb"), str(executed),
         "-f", "parameters.json", "--kernel", "python3", "--no-progress-bar"], cwd=tmp_path, env=env)
    cells = json.loads(executed.read_text())["cells"]
    shown = "".join(json.dumps(cell.get("outputs", [])) for cell in cells)
    assert "Traceback" not in shown
    # the committed CNN run was found and read: its test split of 624 images is summarised
    assert "624" in shown
    assert not list(project.glob("results")), "the run wrote into the project copy it was not run from"
