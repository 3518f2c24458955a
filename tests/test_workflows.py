"""The GitHub Actions workflows, checked here without GitHub.

- Each is valid against the published GitHub workflow schema (SchemaStore's, vendored by
  check-jsonschema: ``--builtin-schema vendor.github-workflows``).
- zizmor audits them offline (template injection, credentials left in checkouts, unpinned actions,
  excessive permissions, ...) and finds nothing.
- Each ``run:`` step is a make target, and what it runs is run here: ``make -n`` shows the recipe,
  and the reruns recipe is executed with hostile inputs to show they stay data.
- The rest of what the three uses need: the book deploys from a separate job in the ``github-pages``
  environment with current majors of the Pages actions, two deployments never race, inputs reach
  scripts only through ``env:``, executed notebooks are uploaded even when a run fails, and every
  scheduled parameter set is valid for its notebook.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from cxr_lib.tooling import book, reruns

WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("tests", "book", "reruns")
#: The oldest majors that still work (deploy-pages v2 and upload-pages-artifact v2 stopped working when
#: upload-artifact v3 was retired; actions/upload-pages-artifact and actions/deploy-pages READMEs).
MINIMUM_MAJOR = {"actions/upload-pages-artifact": 3, "actions/deploy-pages": 4, "actions/upload-artifact": 4,
                 "actions/checkout": 4, "actions/setup-python": 5, "actions/cache": 4}


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def steps(workflow: dict) -> list[tuple[str, dict]]:
    return [(job_name, step) for job_name, job in workflow["jobs"].items() for step in job["steps"]]


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else shutil.which(name) or pytest.fail(f"{name} is not installed: pip install -r requirements.txt")


def test_the_three_workflows_and_only_them() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == sorted(f"{name}.yml" for name in NAMES)


def test_workflows_are_valid_against_githubs_schema() -> None:
    checked = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                              *sorted(map(str, WORKFLOWS.glob("*.yml")))], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok -- validation done" in checked.stdout


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "book.yml").read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    checked = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1 and "runs_on" in checked.stdout + checked.stderr


def test_zizmor_finds_nothing() -> None:
    audited = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)], capture_output=True, text=True,
                             timeout=120)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "No findings to report" in audited.stdout


def test_zizmor_would_catch_an_input_pasted_into_a_script(tmp_path: Path) -> None:
    hostile = tmp_path / ".github" / "workflows" / "reruns.yml"
    hostile.parent.mkdir(parents=True)
    hostile.write_text((WORKFLOWS / "reruns.yml").read_text().replace("        run: make rerun\n",
                                                                        "        run: make rerun PARAMETERS=\"${{ inputs.parameters }}\"\n", 1))
    audited = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(hostile)], capture_output=True, text=True, timeout=120)
    assert audited.returncode != 0 and "template-injection" in audited.stdout


def test_every_run_step_is_a_make_target() -> None:
    targets = set()
    for name in NAMES:
        for job, step in steps(load(name)):
            if "run" in step:
                found = re.fullmatch(r"make ([a-z-]+)", step["run"].strip())
                assert found, f"{name}.yml, job {job}: run a make target, not {step['run']!r}"
                targets.add(found[1])
            assert "${{" not in step.get("run", ""), f"{name}.yml, job {job}: expressions reach scripts through env: only"
    assert targets == {"test", "data", "demo", "book", "rerun"}
    for target in sorted(targets):  # each exists, and says what it runs
        shown = subprocess.run(["make", "-n", "-s", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
    recipes = {target: subprocess.run(["make", "-n", "-s", target], cwd=ROOT, capture_output=True, text=True).stdout
               for target in ("data", "demo", "rerun")}
    assert ".venv/bin/cxr data --download" in recipes["data"]  # tests/test_download.py
    assert ".venv/bin/cxr book --root . --profile offline" in recipes["demo"]  # the offline_book fixture
    assert '.venv/bin/cxr rerun "$NOTEBOOK"' in recipes["rerun"]  # tests/test_reruns.py and below


def rerun_recipe() -> str:
    """The command line ``make rerun`` runs, as the shell gets it."""
    shown = subprocess.run(["make", "-n", "-s", "rerun"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    return next(line for line in shown.splitlines() if "cxr rerun" in line)


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"NOTEBOOK": '01_baseline"; touch PWNED; echo "'}, "unknown notebook '01_baseline\"; touch PWNED; echo \"'"),
        ({"NOTEBOOK": "01_baseline", "PARAMETERS": "$(touch PWNED)"}, "the parameters must be a YAML mapping"),
        ({"NOTEBOOK": "01_baseline", "PARAMETERS": "{max_new_tokens: '`touch PWNED`'}"}, "'max_new_tokens' must be int"),
        ({"NOTEBOOK": "01_baseline", "PROFILE": "$(touch PWNED)"}, "does not exist"),
    ],
)
def test_rerun_inputs_stay_data(tmp_path: Path, variables: dict, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTEBOOK", "PROFILE", "PARAMETERS", "OUT")}
    env.update(variables, OUT=str(tmp_path / "out"), PYTHONPATH=str(ROOT))
    ran = subprocess.run(["bash", "-c", rerun_recipe()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.strip().splitlines() == [ran.stderr.strip().splitlines()[-1]] and message in ran.stderr
    assert not (ROOT / "PWNED").exists() and not (tmp_path / "out").exists()


def pinned(uses: str, text: str) -> tuple[str, int]:
    """The action and the major version a ``uses:`` names (a full commit SHA with its ``# vX.Y.Z`` comment)."""
    action, _, ref = uses.partition("@")
    assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{uses}: pin actions to a commit"
    comment = re.search(rf"{re.escape(uses)}\s+#\s*v(\d+)\.\d+\.\d+", text)
    assert comment, f"{uses}: say which release the commit is (# vX.Y.Z)"
    return action, int(comment[1])


def test_actions_are_pinned_to_current_majors() -> None:
    for name in NAMES:
        text = (WORKFLOWS / f"{name}.yml").read_text()
        for _, step in steps(load(name)):
            if "uses" in step:
                action, major = pinned(step["uses"], text)
                assert major >= MINIMUM_MAJOR.get(action, 1), f"{name}.yml: {action} v{major}"


def test_tests_workflow_runs_make_test_on_debian_with_a_pip_cache() -> None:
    workflow = load("tests")
    assert set(workflow["on"]) == {"push", "pull_request"}
    job = workflow["jobs"]["test"]
    assert re.fullmatch(r"python:3\.11-(bookworm|trixie)", job["container"])  # Debian: make test installs its chromium as root
    cache = next(step for step in job["steps"] if "actions/cache@" in step.get("uses", ""))
    assert cache["with"]["path"] == "~/.cache/pip" and "requirements.txt" in cache["with"]["key"]
    assert [step["run"] for step in job["steps"] if "run" in step] == ["make test"]
    assert workflow["permissions"] == {"contents": "read"}


def test_book_workflow_builds_then_deploys_pages_in_its_own_job() -> None:
    workflow = load("book")
    assert workflow["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in workflow["on"]
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}  # two deployments never race
    assert workflow["permissions"] == {}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any("actions/upload-pages-artifact@" in step.get("uses", "") and step["with"]["path"] == "_build/html"
               for step in build["steps"])
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    runs = {step["run"]: step.get("if", "") for step in build["steps"] if "run" in step}
    # offline profile on GitHub's runners, full profile where a GPU runner is configured (with the HF token)
    assert runs == {"make data": "", "make demo": "vars.BOOK_GPU_RUNNER == ''", "make book": "vars.BOOK_GPU_RUNNER != ''"}
    full = next(step for step in build["steps"] if step.get("run") == "make book")
    assert full["env"] == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}"}
    assert "BOOK_GPU_RUNNER" in build["runs-on"]


def test_reruns_workflow_passes_inputs_through_env_and_keeps_failed_notebooks() -> None:
    workflow = load("reruns")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"notebook", "profile", "parameters"}
    assert inputs["notebook"]["options"] == list(book.NOTEBOOKS)
    assert "schedule" in workflow["on"]
    for job_name, job in workflow["jobs"].items():
        rerun = next(step for step in job["steps"] if step.get("run") == "make rerun")
        assert {"NOTEBOOK", "PROFILE", "PARAMETERS", "OUT"} <= set(rerun["env"])
        upload = next(step for step in job["steps"] if "actions/upload-artifact@" in step.get("uses", ""))
        assert upload["if"] == "always()", job_name  # executed notebooks come back from failed runs too
        assert upload["with"]["path"].endswith("*.ipynb")
    assert workflow["jobs"]["by-hand"]["steps"][3]["env"]["PARAMETERS"] == "${{ inputs.parameters }}"


def test_scheduled_parameter_sets_are_valid_for_their_notebooks(tmp_path: Path) -> None:
    entries = load("reruns")["jobs"]["scheduled"]["strategy"]["matrix"]["include"]
    assert len({entry["name"] for entry in entries}) == len(entries) >= 3
    project = book.BookProject.at(ROOT)
    offline = book.load_profile(ROOT / "profiles" / "offline.yaml")
    for entry in entries:
        extra = reruns.parse_parameters(entry["parameters"])
        assert extra, entry["name"]
        parameters = reruns.rerun_parameters(project, entry["notebook"], offline, extra, tmp_path / entry["name"])
        assert {key: parameters[key] for key in extra} == extra
