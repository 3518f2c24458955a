"""The package installed as a user installs it — a wheel, in a fresh virtual environment outside any
checkout — runs a notebook.

A Colab user has only what the wheel holds: the committed CNN predictions must come with it and be
found from any working folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import FAKE_TOKEN, copy_project

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert finished.returncode == 0, f"{' '.join(command)}\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    return finished


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(project copy, the wheel built from it as ``make install`` builds, pip's verbose output of the build)."""
    base = tmp_path_factory.mktemp("install")
    project = copy_project(base / "project")
    wheels = base / "wheels"
    finished = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(project)], cwd=base, env=clean_env())
    (wheel,) = wheels.glob("cxr_lib-*.whl")
    return project, wheel, finished.stdout + finished.stderr


def test_the_build_warns_nothing_and_states_the_licence(built: tuple[Path, Path, str]) -> None:
    import zipfile

    _, wheel, log = built
    # setuptools >= 77 deprecates `license = { text = ... }` ("By 2027-Feb-18, you need to update your project");
    # the SPDX string is PEP 639's form, written as License-Expression (core metadata 2.4)
    assert "deprecat" not in log.lower() and "2027" not in log, log[-3000:]
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        assert "License-Expression: MIT" in archive.read(metadata).decode().splitlines()


@pytest.fixture(scope="module")
def installed(built: tuple[Path, Path, str]) -> tuple[Path, Path, dict[str, str]]:
    """(project copy, a fresh virtual environment outside it with the wheel installed, its environment).

    The wheel is installed with ``--no-deps`` into a new virtual environment; the dependencies, which
    cannot be downloaded here, come from this environment's site-packages through a ``.pth`` file (its
    editable ``cxr_lib`` is not activated that way).
    """
    project, wheel, _ = built
    base = wheel.parents[1]
    env_dir = base / "env"
    env = clean_env()
    run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=base, env=env)
    python = env_dir / "bin" / "python"
    env_site = Path(run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], cwd=base, env=env).stdout.strip())
    (env_site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)], cwd=base, env=env)
    run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], cwd=base, env=env)
    return project, env_dir, env | {"HF_TOKEN": FAKE_TOKEN}


def installed_package(env_dir: Path) -> Path:
    (package,) = env_dir.glob("lib/python*/site-packages/cxr_lib")
    return package


def test_the_wheel_holds_the_committed_artifacts(installed: tuple[Path, Path, dict[str, str]]) -> None:
    project, env_dir, env = installed
    site = installed_package(env_dir).parent
    names = {p.relative_to(site).as_posix() for p in (site / "cxr_lib" / "artifacts").rglob("*") if p.is_file()}
    expected = {p.relative_to(project).as_posix() for p in (project / "cxr_lib" / "artifacts").rglob("*") if p.is_file()}
    assert expected and names == expected


def test_the_installed_package_is_the_one_imported(installed: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    _, env_dir, env = installed
    code = "import cxr_lib.data.artifacts as a; print(a.locate('artifacts/baseline/predictions_test.csv'))"
    path = Path(run([str(env_dir / "bin" / "python"), "-c", code], cwd=tmp_path, env=env).stdout.strip())
    assert path.is_file() and installed_package(env_dir) in path.parents


def test_notebook_1_runs_from_another_folder(installed: tuple[Path, Path, dict[str, str]], tmp_path: Path,
                                             data_dir: Path) -> None:
    project, env_dir, env = installed
    python = str(env_dir / "bin" / "python")
    run([python, "-m", "cxr_lib", "stand-ins", str(tmp_path / "stand_ins")], cwd=tmp_path, env=env)
    executed = tmp_path / "01_baseline.ipynb"
    parameters = {"vlm_model": str(tmp_path / "stand_ins" / "medgemma"), "results_dir": str(tmp_path / "results"),
                  "device": "cpu", "case_sets": ["reference"], "max_cases_per_set": 2, "max_new_tokens": 8,
                  "score": False}
    (tmp_path / "parameters.json").write_text(json.dumps(parameters))  # JSON is YAML
    run([python, "-m", "papermill", str(project / "notebooks" / "01_baseline.ipynb"), str(executed),
         "-f", "parameters.json", "--kernel", "python3", "--no-progress-bar"], cwd=tmp_path, env=env)
    cells = json.loads(executed.read_text())["cells"]
    shown = "".join(json.dumps(cell.get("outputs", [])) for cell in cells)
    assert "Traceback" not in shown
    # the committed CNN run was found and read: its test split of 624 images is summarised
    assert "624" in shown
    assert not list(project.glob("results")), "the run wrote into the project copy it was not run from"
