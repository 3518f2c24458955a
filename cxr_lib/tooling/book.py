"""Run the three notebooks with papermill for a profile, then build the Jupyter Book.

``cxr book --root . --profile offline`` is what ``make demo`` runs; ``make book`` runs the full
profile. The project root is always given (``--root``, default the current folder): the notebooks,
the book's pages and its configuration are read from there, and the executed notebooks
(``book/executed``) and the HTML (``_build/html``) are written there — nothing is written beside the
installed package. A profile is a YAML file naming the parameters each notebook gets (see
``profiles/``); parameters are checked against each notebook's ``parameters`` cell before anything
runs: an unknown name or a value of the wrong type is an error, not a warning. A profile that asks
a server for its reports may have an ``agreement`` step: before any notebook, the server is compared
with the model loaded here on a few images (:mod:`cxr_lib.analysis.agreement`), and a disagreement
stops the book. ``cxr book --plan`` prints what a profile runs instead of running it
(:mod:`cxr_lib.tooling.plan`).

Each notebook also gets the repository the book is published from (``repository``, from
:mod:`cxr_lib.tooling.repository`), which its Colab install cell installs from, and the book gets
Colab buttons that open the committed notebooks of that repository.

The numbers the Markdown pages state (``{{ name }}`` in ``book/*.md``) are MyST substitutions computed
from the committed artifacts each time the book is built (:func:`cxr_lib.study.book_numbers`), so no page
carries a number or a direction typed by hand.

Paths handed to the notebooks are relative to the project root (the notebooks run there), so an
executed notebook and the book name files the way a reader of the repository does, never by a path
of the machine that built them. No secret is ever passed as a parameter: the Hugging Face token
comes from the environment or the login cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from cxr_lib.analysis.agreement import check_agreement
from cxr_lib.data.artifacts import ARTIFACTS_DIR
from cxr_lib.data.datasets import data_dirs
from cxr_lib.errors import CxrError, DisagreementError, ParameterError
from cxr_lib.models.endpoint import open_endpoint
from cxr_lib.models.hub import check_model_config as check_hub_model
from cxr_lib.models.stand_ins import build_stand_ins, stand_ins_current
from cxr_lib.storage import atomic_write_json, atomic_write_text, ensure_writable_dir
from cxr_lib.study import book_numbers, check_registered_parameters
from cxr_lib.tooling.repository import source_repository, with_repository

NOTEBOOKS = ("01_baseline", "02_super_resolution", "03_prompting")
PROFILE_KEYS = {"name", "stand_ins", "parameters", "agreement", "notebooks_at_once"}
#: What a profile's ``agreement`` step may set (:func:`cxr_lib.analysis.agreement.check_agreement`).
AGREEMENT_KEYS = {"cases", "max_new_tokens", "score_tolerance", "early_tokens", "max_disagreeing"}
STAND_IN_ANNOUNCEMENT = (
    "Built by the offline profile with STAND-IN models (tiny, random weights) in place of MedGemma and "
    "Swin2SR: their reports, readings, scores and every number computed from them are meaningless and are "
    "not findings (the CNN numbers, the fidelity of the interpolations, of Real-ESRGAN, which runs with its "
    "real weights, and of the Swin2SR trained here on chest X-rays, and the high-resolution reader's numbers, are "
    "real). Run `make book` with the real models."
)
#: What a folder needs to be a project root the book can be built from.
PROJECT_FILES = ("_config.yml", "_toc.yml", "notebooks", "book")


@dataclass(frozen=True)
class BookProject:
    """A checkout of the project: its notebooks, the book's pages and configuration, and where the
    executed notebooks and the HTML go."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike = ".") -> "BookProject":
        """The project at ``root``; :class:`ParameterError` if ``root`` is not a checkout of it."""
        folder = Path(root).expanduser().resolve()
        missing = [name for name in PROJECT_FILES if not (folder / name).exists()]
        if missing:
            raise ParameterError(
                f"{root} is not a checkout of the project (no {', '.join(missing)}): pass --root pointing to a clone "
                "of the repository"
            )
        return cls(folder)

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def executed_dir(self) -> Path:
        return self.root / "book" / "executed"

    @property
    def build_dir(self) -> Path:
        return self.root / "_build"

    @property
    def html_dir(self) -> Path:
        return self.build_dir / "html"

    def notebook(self, name: str) -> Path:
        """The paired ``.ipynb`` of a notebook."""
        return self.notebooks_dir / f"{name}.ipynb"

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` as the notebooks see it: relative to the project root (they run there)."""
        return os.path.relpath(Path(path).resolve(), self.root)

    def profile_path(self, profile: str | os.PathLike) -> Path:
        """A profile by name (one of :func:`profile_names`: ``profiles/<name>.yaml``) or by file path."""
        text = str(profile)
        if os.sep not in text and not text.endswith((".yaml", ".yml")):
            return self.root / "profiles" / f"{text}.yaml"
        path = Path(text).expanduser()
        return path if path.is_absolute() or path.exists() else self.root / path


@dataclass(frozen=True)
class Profile:
    """A named set of notebook parameters."""

    name: str
    stand_ins: bool
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    agreement: dict[str, Any] | None = None  # the server checked against the in-process model first (cases, …)
    #: How many notebooks run at the same time, each in its own kernel: 1 for a real model, which one
    #: accelerator holds once; the offline profile's stand-ins are small enough to share the CPU.
    notebooks_at_once: int = 1


def profile_names(root: str | os.PathLike = ".") -> list[str]:
    """The profiles of the project at ``root`` by name: the YAML files in its ``profiles/`` folder."""
    return sorted(path.stem for path in (Path(root) / "profiles").glob("*.yaml"))


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile YAML file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        known = profile_names(path.parent.parent) if path.parent.name == "profiles" else []
        named = f"one of {', '.join(known)} (the files in {path.parent})" if known else "a profile name of profiles/"
        raise ParameterError(f"profile {path} does not exist: use {named} or a profile file")
    try:
        payload = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ParameterError(f"profile {path} is not valid YAML ({exc.__class__.__name__}): fix its syntax") from exc
    if not isinstance(payload, dict):
        raise ParameterError(f"profile {path} must be a mapping with keys {', '.join(sorted(PROFILE_KEYS))}")
    unknown = set(payload) - PROFILE_KEYS
    if unknown:
        raise ParameterError(f"profile {path} has unknown keys {sorted(unknown)}: allowed are {sorted(PROFILE_KEYS)}")
    parameters = payload.get("parameters") or {}
    sections = set(parameters) - {"all", *NOTEBOOKS}
    if sections:
        raise ParameterError(f"profile {path} names unknown notebooks {sorted(sections)}: expected {list(NOTEBOOKS)} or 'all'")
    for name, values in parameters.items():
        if values is not None and not isinstance(values, dict):
            raise ParameterError(f"profile {path}: parameters.{name} must be a mapping of parameter names to values")
    agreement = payload.get("agreement")
    if agreement is not None and (not isinstance(agreement, dict) or set(agreement) - AGREEMENT_KEYS):
        raise ParameterError(f"profile {path}: agreement must be a mapping with keys among {sorted(AGREEMENT_KEYS)}")
    at_once = payload.get("notebooks_at_once", 1)
    if isinstance(at_once, bool) or not isinstance(at_once, int) or at_once < 1:
        raise ParameterError(f"profile {path}: notebooks_at_once is {at_once!r}; set a whole number of 1 or more")
    return Profile(str(payload.get("name", path.stem)), bool(payload.get("stand_ins", False)),
                   {k: dict(v or {}) for k, v in parameters.items()}, path, agreement, at_once)


def notebook_parameters(profile: Profile, notebook: str, substitutions: dict[str, str]) -> dict[str, Any]:
    """The parameters one notebook gets: the profile's ``all`` section overlaid with its own."""
    merged = {**profile.parameters.get("all", {}), **profile.parameters.get(notebook, {})}
    return {key: _substitute(value, substitutions) for key, value in merged.items()}


def _substitute(value: Any, substitutions: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**substitutions)
    if isinstance(value, list):
        return [_substitute(v, substitutions) for v in value]
    return value


_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,), "dict": (dict,),
}


def check_parameters(notebook_path: Path, parameters: dict[str, Any]) -> None:
    """Raise :class:`ParameterError` for a name the notebook lacks, a value of the wrong type, or an
    upscaler, prompt strategy or language that is not registered (:func:`cxr_lib.study.check_registered_parameters`)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook_path))
    for name, value in parameters.items():
        if name not in declared:
            raise ParameterError(
                f"{notebook_path.name} has no parameter {name!r}: its parameters are {', '.join(sorted(declared))}"
            )
        expected = _declared_type(declared[name])
        if value is None or expected is None:
            continue
        ok = isinstance(value, _TYPE_CHECKS[expected]) and not (expected in ("int", "float") and isinstance(value, bool))
        if not ok:
            raise ParameterError(
                f"{notebook_path.name}: parameter {name!r} must be {expected}, got {type(value).__name__} {value!r}"
            )
    check_registered_parameters(parameters, where=notebook_path.name)


def _declared_type(parameter: dict[str, Any]) -> str | None:
    """The base type of a parameter's annotation (``str | None`` → ``str``), or None if unknown."""
    text = str(parameter.get("inferred_type_name") or "")
    for part in (p.strip() for p in text.replace("Optional[", "").replace("]", "").split("|")):
        base = part.split("[")[0]
        if base in _TYPE_CHECKS:
            return base
    return None


def preflight(profile: Profile, substitutions: dict[str, str]) -> None:
    """Stop before any long work when a model the profile needs cannot be reached."""
    if profile.stand_ins:
        return
    models, endpoints = set(), set()
    for notebook in NOTEBOOKS:
        parameters = notebook_parameters(profile, notebook, substitutions)
        for key, value in parameters.items():
            if key == "vlm_model" and parameters.get("vlm_endpoint"):  # asked of a server, not loaded here
                endpoints.add((str(parameters["vlm_endpoint"]), str(value) if value else ""))
            elif key.endswith("_model") and value:
                models.add(str(value))
    for model in sorted(models):
        if not Path(model).is_dir():
            check_hub_model(model)
    for url, model in sorted(endpoints):  # the server answers, with this model, and reads images

        open_endpoint(url, model or None).close()


def agreement_step(profile: Profile, substitutions: dict[str, str]) -> None:
    """The profile's ``agreement`` step: its server compared with the model loaded here on a few images
    (:mod:`cxr_lib.analysis.agreement`); a disagreement stops the book before any notebook runs."""
    if not profile.agreement:
        return
    parameters = notebook_parameters(profile, NOTEBOOKS[0], substitutions)
    if not parameters.get("vlm_endpoint"):
        raise ParameterError(f"profile {profile.name} has an agreement step but no vlm_endpoint to check")
    print(f"agreement check: {parameters['vlm_endpoint']} against the model loaded here ...", flush=True)
    result = check_agreement(parameters["vlm_endpoint"], parameters.get("vlm_model"), device=parameters.get("device"),
                             **profile.agreement)
    print("\n".join("  " + line for line in result.summary_lines()), flush=True)
    if not result.agrees:
        raise DisagreementError(result.verdict())


EXECUTION_KEY = "cxr_execution_key"


def execution_key(source: Path, parameters: dict[str, Any]) -> str:
    """What an executed notebook depends on: the notebook, its parameters, the package's code, its
    committed artifacts and the data files (size and modification time). Equal keys mean a
    rerun would give the same outputs."""
    import hashlib
    import json
    import os

    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    _digest_code_and_data(digest, parameters.get("data_dir"))
    digest.update(os.environ.get("HF_HUB_OFFLINE", "").encode())
    return digest.hexdigest()


def _digest_code_and_data(digest: Any, data_dir: str | os.PathLike | None = None) -> None:
    """Add the package's code, its committed artifacts and the data folders' files (path, size and
    modification time) to ``digest``: what every number the project computes comes from."""
    package = Path(__file__).resolve().parents[1]
    code = sorted(package.rglob("*.py")) + sorted(p for p in ARTIFACTS_DIR.rglob("*") if p.is_file())
    for path in code:
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    for folder in data_dirs(data_dir):
        for path in sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())


def is_up_to_date(target: Path, key: str) -> bool:
    """Whether ``target`` was executed, without error, for exactly this key."""
    import nbformat

    if not target.is_file():
        return False
    try:
        return nbformat.read(target, as_version=4).metadata.get(EXECUTION_KEY) == key
    except Exception:  # unreadable: run it again
        return False


def stamp(target: Path, key: str, paths: dict[str, str] | None = None) -> None:
    """Record the execution key in an executed notebook's metadata; ``paths`` replaces papermill's
    record of where the notebook was read from and written to (``input_path``, ``output_path``)."""
    import nbformat

    notebook = nbformat.read(target, as_version=4)
    notebook.metadata[EXECUTION_KEY] = key
    if paths and "papermill" in notebook.metadata:
        notebook.metadata["papermill"].update(paths)
    atomic_write_text(target, nbformat.writes(notebook))


#: Warnings a kernel without ipywidgets prints when a library imports ``tqdm.auto``: they name the
#: local install path, and an executed notebook would publish it. Nothing else is silenced.
KERNEL_WARNINGS_IGNORED = ("ignore:IProgress not found",)


@contextmanager
def kernel_transport() -> Iterator[dict[str, Any]]:
    """papermill's keyword arguments for kernels that talk over IPC (Unix sockets in a private temporary
    folder) rather than TCP on localhost, which ipykernel warns is unencrypted; on a system without Unix
    sockets, none (TCP, jupyter_client's default)."""
    if os.name != "posix":
        yield {}
        return
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    with tempfile.TemporaryDirectory(prefix="cxr-kernel-") as sockets:

        class IpcKernelManager(AsyncKernelManager):
            """jupyter_client's kernel manager, with ``transport = "ipc"`` and its sockets in ``sockets``."""

            @default("transport")
            def _transport_ipc(self) -> str:
                return "ipc"

            @default("ip")
            def _ip_in_sockets(self) -> str:  # the sockets' path prefix (jupyter_client's default is relative)
                return os.path.join(sockets, "kernel")

        yield {"kernel_manager_class": IpcKernelManager}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the notebook kernels, the book build);
    this process's alone where the system keeps no account of children."""
    try:
        import resource
    except ImportError:  # not a Unix system
        return time.process_time()
    return sum(getattr(resource.getrusage(who), part) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for part in ("ru_utime", "ru_stime"))


@contextmanager
def kernel_environment() -> Iterator[None]:
    """The environment the notebook kernels start in: this one, with :data:`KERNEL_WARNINGS_IGNORED`."""
    before = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [before, *KERNEL_WARNINGS_IGNORED]))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = before


def execute_notebooks(project: BookProject, profile: Profile, results: str | os.PathLike,
                      notebooks: Sequence[str] = NOTEBOOKS, force: bool = False,
                      timings: dict[str, Any] | None = None) -> list[Path]:
    """Run each notebook with papermill into ``book/executed`` of ``project``; return the executed paths.

    The notebooks run in the project root and get ``results`` (and the stand-ins' folder under it)
    as paths relative to it. A notebook whose executed copy has the same :func:`execution_key` is
    not run again (its records are cached anyway; this also skips the kernel start and model load)
    unless ``force``. The profile's ``notebooks_at_once`` run at the same time, each in its own kernel;
    a failure stops none of the others and all failures are reported when they have finished. ``timings``,
    when given, receives the wall seconds of each step, and its CPU seconds where it ran alone.
    """
    import papermill

    repository = source_repository(project.root)  # what Colab installs from (the install cell reads it)
    results = ensure_writable_dir(results).resolve()
    substitutions = {"results": project.relative(results), "stand_ins": project.relative(results / "stand_ins")}
    preflight(profile, substitutions)
    agreement_step(profile, substitutions)
    timings = {} if timings is None else timings
    if profile.stand_ins:
        folder = results / "stand_ins"
        if force or not stand_ins_current(folder):  # missing, older, or not the tokenizer available now
            with _timed(timings, "stand_ins"):
                build_stand_ins(folder)
    executed_dir = ensure_writable_dir(project.executed_dir)
    pending, executed = [], []
    for notebook in notebooks:
        source = project.notebook(notebook)
        parameters = {**notebook_parameters(profile, notebook, substitutions), "repository": repository and repository.spec}
        check_parameters(source, parameters)
        target = executed_dir / f"{notebook}.ipynb"
        key = execution_key(source, parameters)
        executed.append(target)
        if not force and is_up_to_date(target, key):
            print(f"{notebook} is up to date ({project.relative(target)}; --force reruns it)", flush=True)
        else:
            pending.append(_NotebookRun(notebook, source, target, parameters, key))
    at_once = min(profile.notebooks_at_once, len(pending))
    if at_once > 1:  # the light notebooks together, the heavy one as they finish
        pending.sort(key=lambda run: run.notebook == HEAVIEST_NOTEBOOK)
        print(f"running {', '.join(run.notebook for run in pending)} ({profile.name} profile), {at_once} at a time ...", flush=True)
    with kernel_environment(), _in_folder(project.root), ThreadPoolExecutor(max_workers=max(at_once, 1)) as pool:
        failures = [failure for failure in pool.map(lambda run: _execute(project, profile, run, timings, alone=at_once <= 1),
                                                    pending) if failure]
    if failures:
        raise CxrError("; ".join(failures))
    return executed


#: The notebook started last when several run at once: it keeps both processors of a small machine busy
#: by itself (the fidelity of every upscaler, the reader), while the other two mostly wait on one.
HEAVIEST_NOTEBOOK = "02_super_resolution"


@dataclass(frozen=True)
class _NotebookRun:
    """One notebook to execute: where from, where to, with what, under which key."""

    notebook: str
    source: Path
    target: Path
    parameters: dict[str, Any]
    key: str


def _execute(project: BookProject, profile: Profile, run: _NotebookRun, timings: dict[str, Any], alone: bool) -> str | None:
    """Execute one notebook with papermill and stamp it; the failure's one line, or None."""
    import papermill

    shown = project.relative(run.target)
    started = time.perf_counter()
    if alone:
        print(f"running {run.notebook} ({profile.name} profile) ...", flush=True)
    try:
        # each kernel its own socket folder; papermill's cwd is the folder every thread is already in
        with kernel_transport() as transport, _timed(timings, run.notebook, cpu=alone):
            papermill.execute_notebook(
                str(run.source), str(run.target), parameters=run.parameters, kernel_name="python3",
                cwd=str(project.root), progress_bar=False, report_mode=False, **transport,
            )
    except papermill.PapermillExecutionError as exc:
        return (f"notebook {run.notebook} failed in cell {exc.exec_count}: {exc.ename}: "
                f"{exc.evalue.splitlines()[0] if exc.evalue else ''} (the executed notebook is {shown})")
    stamp(run.target, run.key, {"input_path": project.relative(run.source), "output_path": shown})
    print(f"  {run.notebook} done in {time.perf_counter() - started:.0f} s → {shown}", flush=True)
    return None


@contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    """Work in ``folder``, then go back. papermill changes the process's folder to its ``cwd`` and back, which
    is not thread-safe (papermill issue 473); with every thread already in ``cwd``, each change is a no-op."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _timed(timings: dict[str, Any], step: str, cpu: bool = True) -> Iterator[None]:
    """Record the wall and CPU seconds of one step in ``timings[step]`` (CPU seconds only with ``cpu``: steps
    that run at the same time share the process's count; the run's total is in the timings file)."""
    wall, used = time.perf_counter(), _cpu_seconds()
    try:
        yield
    finally:
        timings[step] = {"seconds": round(time.perf_counter() - wall, 2),
                         "cpu_seconds": round(_cpu_seconds() - used, 2) if cpu else None}


#: Written into the results folder by every ``cxr book`` run: what each step took (the Performance page).
TIMINGS_FILE = "timings.json"


def write_timings(path: Path, profile: Profile, steps: dict[str, Any], seconds: float, cpu_seconds: float,
                  load: tuple[float, float, float]) -> Path:
    """Write one run's timings as JSON: each step's wall and CPU seconds (a step that was up to date and
    skipped is absent), the whole run's, the processors and the load average before and after the run."""
    import datetime
    import platform

    payload = {
        "profile": profile.name, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2), "steps": steps,
        "notebooks_at_once": profile.notebooks_at_once,
        "machine": {"processors": os.cpu_count(), "usable_processors": len(os.sched_getaffinity(0))
                    if hasattr(os, "sched_getaffinity") else os.cpu_count(), "platform": platform.platform(),
                    "load_average_before": [round(x, 2) for x in load],
                    "load_average_after": [round(x, 2) for x in _load_average()]},
    }
    return atomic_write_json(path, payload)


def _load_average() -> tuple[float, float, float]:
    return os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3


BOOK_KEY_FILE = ".cxr_book_key"


def book_key(project: BookProject, config_text: str) -> str:
    """What the HTML depends on: the configuration (before the numbers are put in), the table of contents,
    the pages, their images, the executed notebooks, and what the pages' numbers are computed from (the
    package, its committed artifacts, the data files)."""
    import hashlib

    root = project.root
    digest = hashlib.sha256(config_text.encode())
    inputs = [root / "_toc.yml", *sorted((root / "book").rglob("*"))]
    for path in inputs:
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    _digest_code_and_data(digest)
    return digest.hexdigest()


def build_book(project: BookProject, profile: Profile, force: bool = False) -> Path:
    """Build the HTML book of ``project`` from its executed notebooks (warnings are errors); skipped
    when nothing it depends on changed since the last build, unless ``force``."""
    import yaml

    config = yaml.safe_load((project.root / "_config.yml").read_text())
    if profile.stand_ins:
        config.setdefault("html", {})["announcement"] = STAND_IN_ANNOUNCEMENT
    config = with_repository(config, source_repository(project.root))  # repository and Colab buttons
    html = project.html_dir
    index = html / "index.html"
    key = book_key(project, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    if not force and index.is_file() and (html / BOOK_KEY_FILE).is_file() and (html / BOOK_KEY_FILE).read_text() == key:
        print(f"book is up to date ({project.relative(index)})")
        return index
    # the numbers the Markdown pages state ({{ name }}), computed now from the committed artifacts
    config.setdefault("parse", {}).setdefault("myst_substitutions", {}).update(book_numbers())
    ensure_writable_dir(project.build_dir)
    derived = project.build_dir / f"_config.{profile.name}.yml"
    atomic_write_text(derived, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    if html.exists():
        shutil.rmtree(html)
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--config", project.relative(derived),
        "--toc", "_toc.yml", "-W", "--keep-going", "--all", "-q",
    ]
    result = subprocess.run(command, cwd=project.root, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise CxrError("the Jupyter Book build failed (warnings are errors): see the messages above")
    atomic_write_text(html / BOOK_KEY_FILE, key)
    print(f"book written to {project.relative(index)}")
    return index


def run_book(root: str | os.PathLike, profile: str | os.PathLike, results: str | os.PathLike | None = None,
             skip_notebooks: bool = False, no_book: bool = False, force: bool = False) -> Path | None:
    """``cxr book``: run the notebooks of the project at ``root`` with a profile, then build its book.

    ``results`` defaults to ``<root>/results/<profile name>``. Returns the book's index page (None
    with ``no_book``).
    """
    project = BookProject.at(root)
    chosen = load_profile(project.profile_path(profile))
    started, cpu, load = time.perf_counter(), _cpu_seconds(), _load_average()
    results = Path(results or project.root / "results" / chosen.name)
    steps: dict[str, Any] = {}
    if not skip_notebooks:
        execute_notebooks(project, chosen, results, force=force, timings=steps)
    if no_book:
        index = None
    else:
        with _timed(steps, "book"):
            index = build_book(project, chosen, force=force)
    seconds = time.perf_counter() - started
    write_timings(ensure_writable_dir(results) / TIMINGS_FILE, chosen, steps, seconds, _cpu_seconds() - cpu, load)
    print(f"{chosen.name} profile finished in {seconds:.0f} s")
    return index
