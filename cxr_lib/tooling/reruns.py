"""``cxr rerun``: one notebook run with a profile and parameters of one's own, into a folder of its own.

This is what the reruns workflow runs in CI (``make rerun``), and what a user runs to try other
parameters without touching the book. The notebook gets its profile's parameters overlaid with a
YAML mapping of parameters (``case_sets: [reference]``, one per line, or a flow mapping on one line);
all of them are checked against the notebook's ``parameters`` cell before anything runs. The executed
notebook is written to ``OUT/<notebook>.ipynb`` as the run goes, so a run that fails leaves the
notebook with its error for reading; its records go to ``OUT/results``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cxr_lib.errors import CxrError, ParameterError
from cxr_lib.models.stand_ins import build_stand_ins, stand_ins_current
from cxr_lib.storage import ensure_writable_dir
from cxr_lib.tooling.book import (
    NOTEBOOKS,
    BookProject,
    Profile,
    check_parameters,
    kernel_environment,
    load_profile,
    notebook_parameters,
    preflight,
)


def parse_parameters(text: str | None) -> dict[str, Any]:
    """A YAML mapping of notebook parameters (empty or None: no parameters)."""
    import yaml

    if text is None or not text.strip():
        return {}
    try:
        parameters = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"the parameters are not valid YAML ({exc.__class__.__name__}): "
                             "give a mapping such as 'max_new_tokens: 64' or '{case_sets: [reference]}'") from None
    if not isinstance(parameters, dict) or not all(isinstance(key, str) for key in parameters):
        raise ParameterError(f"the parameters must be a YAML mapping of names to values, not {text.strip()[:60]!r}: "
                             "for example 'max_new_tokens: 64'")
    return parameters


def rerun_parameters(project: BookProject, notebook: str, profile: Profile, extra: dict[str, Any],
                     results: Path) -> dict[str, Any]:
    """The checked parameters ``notebook`` runs with: ``profile``'s for it (its results under ``results``),
    overlaid with ``extra``."""
    if notebook not in NOTEBOOKS:
        raise ParameterError(f"unknown notebook {notebook!r}: expected one of {', '.join(NOTEBOOKS)}")
    parameters = {**notebook_parameters(profile, notebook, substitutions(project, results)), **extra}
    check_parameters(project.notebook(notebook), parameters)
    return parameters


def substitutions(project: BookProject, results: Path) -> dict[str, str]:
    """A profile's ``{results}`` and ``{stand_ins}``, relative to the project root (the notebook runs there)."""
    return {"results": project.relative(results), "stand_ins": project.relative(results / "stand_ins")}


def rerun(root: str | os.PathLike, notebook: str, profile: str | os.PathLike = "offline",
          parameters: str | None = None, out: str | os.PathLike | None = None) -> Path:
    """Run ``notebook`` of the project at ``root`` with ``profile`` and the YAML ``parameters``;
    return the executed notebook (in ``out``, default ``<root>/runs/<notebook>``)."""
    import papermill

    project = BookProject.at(root)
    chosen = load_profile(project.profile_path(profile))
    extra = parse_parameters(parameters)
    folder = (Path(out).expanduser() if out is not None else project.root / "runs" / notebook).resolve()
    results = folder / "results"
    values = rerun_parameters(project, notebook, chosen, extra, results)  # checked before anything is written
    ensure_writable_dir(folder)
    preflight(chosen, substitutions(project, results))
    if chosen.stand_ins and not stand_ins_current(results / "stand_ins"):
        build_stand_ins(results / "stand_ins")
    target = folder / f"{notebook}.ipynb"
    started = time.perf_counter()
    print(f"running {notebook} ({chosen.name} profile{', with ' + ', '.join(sorted(extra)) if extra else ''}) ...", flush=True)
    try:
        with kernel_environment():
            papermill.execute_notebook(str(project.notebook(notebook)), str(target), parameters=values,
                                       kernel_name="python3", cwd=str(project.root), progress_bar=False)
    except papermill.PapermillExecutionError as exc:
        first = exc.evalue.splitlines()[0] if exc.evalue else ""
        raise CxrError(f"{notebook} stopped in cell {exc.exec_count} with {exc.ename}: {first} "
                       f"(the notebook as far as it ran is in {target})") from None
    print(f"  done in {time.perf_counter() - started:.0f} s → {target}", flush=True)
    return target
