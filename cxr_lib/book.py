"""Run the three notebooks with papermill for a profile, then build the Jupyter Book.

``python -m cxr_lib.book --profile profiles/offline.yaml --results results/offline`` is what
``make demo`` runs; ``make book`` runs the full profile. A profile is a YAML file naming the
parameters each notebook gets (see ``profiles/``). Parameters are checked against each
notebook's ``parameters`` cell before anything runs: an unknown name or a value of the wrong
type is an error, not a warning. No secret is ever passed as a parameter: the Hugging Face token
comes from the environment or the login cache.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cxr_lib.errors import CxrError, ParameterError
from cxr_lib.hub import check_model_config as check_hub_model
from cxr_lib.storage import atomic_write_text, ensure_writable_dir

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_baseline", "02_super_resolution", "03_prompting")
EXECUTED_DIR = ROOT / "book" / "executed"
BUILD_DIR = ROOT / "_build"
PROFILE_KEYS = {"name", "stand_ins", "parameters"}
STAND_IN_ANNOUNCEMENT = (
    "Built by the offline profile with STAND-IN models (tiny, random weights) in place of MedGemma and "
    "Swin2SR: their reports, readings, scores and every number computed from them are meaningless and are "
    "not findings (the CNN and interpolation-fidelity numbers are real). Run `make book` with the real models."
)


@dataclass(frozen=True)
class Profile:
    """A named set of notebook parameters."""

    name: str
    stand_ins: bool
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile YAML file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"profile {path} does not exist: use profiles/offline.yaml or profiles/full.yaml")
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
    return Profile(str(payload.get("name", path.stem)), bool(payload.get("stand_ins", False)),
                   {k: dict(v or {}) for k, v in parameters.items()}, path)


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
    """Raise :class:`ParameterError` for a name the notebook lacks or a value of the wrong type."""
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
    models = {
        str(value)
        for notebook in NOTEBOOKS
        for key, value in notebook_parameters(profile, notebook, substitutions).items()
        if key.endswith("_model") and value
    }
    for model in sorted(models):
        if not Path(model).is_dir():
            check_hub_model(model)


EXECUTION_KEY = "cxr_execution_key"


def execution_key(source: Path, parameters: dict[str, Any]) -> str:
    """What an executed notebook depends on: the notebook, its parameters, the package's code and
    the data files (size and modification time). Equal keys mean a rerun would give the same outputs."""
    import hashlib
    import json
    import os

    from cxr_lib.data import data_dirs

    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    for path in sorted((ROOT / "cxr_lib").glob("*.py")) + sorted((ROOT / "artifacts").rglob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    for folder in data_dirs(parameters.get("data_dir")):
        for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(os.environ.get("HF_HUB_OFFLINE", "").encode())
    return digest.hexdigest()


def is_up_to_date(target: Path, key: str) -> bool:
    """Whether ``target`` was executed, without error, for exactly this key."""
    import nbformat

    if not target.is_file():
        return False
    try:
        return nbformat.read(target, as_version=4).metadata.get(EXECUTION_KEY) == key
    except Exception:  # unreadable: run it again
        return False


def stamp(target: Path, key: str) -> None:
    """Record the execution key in an executed notebook's metadata."""
    import nbformat

    notebook = nbformat.read(target, as_version=4)
    notebook.metadata[EXECUTION_KEY] = key
    atomic_write_text(target, nbformat.writes(notebook))


def execute_notebooks(profile: Profile, results: Path, notebooks: Sequence[str] = NOTEBOOKS, force: bool = False) -> list[Path]:
    """Run each notebook with papermill into ``book/executed``; return the executed paths.

    A notebook whose executed copy has the same :func:`execution_key` is not run again (its
    records are cached anyway; this also skips the kernel start and model load) unless ``force``.
    """
    import papermill

    substitutions = {"results": str(results), "stand_ins": str(results / "stand_ins")}
    ensure_writable_dir(results)
    preflight(profile, substitutions)
    if profile.stand_ins:
        from cxr_lib.stand_ins import build_stand_ins, is_stand_in

        folder = results / "stand_ins"
        if force or not all(is_stand_in(folder / name) for name in ("medgemma", "swin2sr")):
            build_stand_ins(folder)
    ensure_writable_dir(EXECUTED_DIR)
    plans = []
    for notebook in notebooks:
        source = ROOT / "notebooks" / f"{notebook}.ipynb"
        parameters = notebook_parameters(profile, notebook, substitutions)
        check_parameters(source, parameters)
        plans.append((notebook, source, parameters))
    executed = []
    for notebook, source, parameters in plans:
        target = EXECUTED_DIR / f"{notebook}.ipynb"
        key = execution_key(source, parameters)
        if not force and is_up_to_date(target, key):
            print(f"{notebook} is up to date ({target.relative_to(ROOT)}; --force reruns it)", flush=True)
            executed.append(target)
            continue
        started = time.perf_counter()
        print(f"running {notebook} ({profile.name} profile) ...", flush=True)
        try:
            papermill.execute_notebook(
                str(source), str(target), parameters=parameters, kernel_name="python3",
                cwd=str(ROOT), progress_bar=False, report_mode=False,
            )
        except papermill.PapermillExecutionError as exc:
            raise CxrError(
                f"notebook {notebook} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue.splitlines()[0] if exc.evalue else ''} "
                f"(the executed notebook is {target})"
            ) from None
        stamp(target, key)
        print(f"  done in {time.perf_counter() - started:.0f} s → {target.relative_to(ROOT)}", flush=True)
        executed.append(target)
    return executed


BOOK_KEY_FILE = ".cxr_book_key"


def book_key(config_text: str) -> str:
    """What the HTML depends on: the configuration, the table of contents, the pages, their images
    and the executed notebooks."""
    import hashlib

    digest = hashlib.sha256(config_text.encode())
    inputs = [ROOT / "_toc.yml", *sorted((ROOT / "book").rglob("*")), *sorted((ROOT / "artifacts").rglob("*"))]
    for path in inputs:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()


def build_book(profile: Profile, force: bool = False) -> Path:
    """Build the HTML book from the executed notebooks (warnings are errors); skipped when nothing
    it depends on changed since the last build, unless ``force``."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    if profile.stand_ins:
        config.setdefault("html", {})["announcement"] = STAND_IN_ANNOUNCEMENT
    BUILD_DIR.mkdir(exist_ok=True)
    derived = BUILD_DIR / f"_config.{profile.name}.yml"
    rendered = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    html = BUILD_DIR / "html"
    index = html / "index.html"
    key = book_key(rendered)
    if not force and index.is_file() and (html / BOOK_KEY_FILE).is_file() and (html / BOOK_KEY_FILE).read_text() == key:
        print(f"book is up to date ({index.relative_to(ROOT)})")
        return index
    atomic_write_text(derived, rendered)
    if html.exists():
        shutil.rmtree(html)
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--config", str(derived),
        "--toc", str(ROOT / "_toc.yml"), "-W", "--keep-going", "--all", "-q",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise CxrError("the Jupyter Book build failed (warnings are errors): see the messages above")
    atomic_write_text(html / BOOK_KEY_FILE, key)
    print(f"book written to {index.relative_to(ROOT)}")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cxr_lib.book``."""
    parser = argparse.ArgumentParser(prog="python -m cxr_lib.book", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(ROOT / "profiles" / "offline.yaml"), help="profile YAML file")
    parser.add_argument("--results", default=None, help="results folder (default: results/<profile name>)")
    parser.add_argument("--skip-notebooks", action="store_true", help="only build the book from executed notebooks")
    parser.add_argument("--no-book", action="store_true", help="only run the notebooks")
    parser.add_argument("--force", action="store_true", help="rerun the notebooks and rebuild the book even when they are up to date")
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        results = Path(args.results or ROOT / "results" / profile.name).resolve()
        started = time.perf_counter()
        if not args.skip_notebooks:
            execute_notebooks(profile, results, force=args.force)
        if not args.no_book:
            build_book(profile, force=args.force)
        print(f"{profile.name} profile finished in {time.perf_counter() - started:.0f} s")
    except CxrError as exc:
        print(f"cxr book: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
