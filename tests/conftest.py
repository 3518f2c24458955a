"""Shared fixtures: the data folder, stand-in models built once per test session, and a copy of the
project with its offline book built once per session.

Tests write only under pytest's temporary folders. With ``CXR_CHECK_UNTOUCHED=1`` (set by ``make
test``) the session fails when it leaves the checkout or the data folder different from how it found
them (a file created, changed or removed; tool caches such as ``.pytest_cache`` aside).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
#: Folders in the checkout that tools write as they run (not results of the project's code).
TOOL_CACHES = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints"}
#: A token-shaped value put in the environment of the offline book build (built here, never committed).
FAKE_TOKEN = "hf_" + "FAKEtoken" * 4 + "00"
#: The GitHub repository and branch the offline book is built as if from (GitHub Actions' variables,
#: made up): every Colab button and install cell of the book must name them, and nothing else.
MADE_UP_REPOSITORY, MADE_UP_BRANCH = "made-up-owner/made-up-fork", "made-up-branch"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-screenshot", action="store_true",
                     help="copy the app screenshot taken by tests/test_ui_browser.py to book/images/ui_screenshot.png")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (tool caches aside) with its size and modification time."""
    state = {}
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in TOOL_CACHES and not d.endswith(".egg-info")]
        for name in files:
            path = Path(base) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return state


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Files created, changed or removed between two snapshots."""
    return sorted({*(set(after) - set(before)), *(set(before) - set(after)),
                   *(p for p in set(before) & set(after) if before[p] != after[p])})


def data_folder() -> Path:
    return Path(os.environ.get("CXR_DATA_DIR") or SHARED_DATA)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CXR_CHECK_UNTOUCHED") == "1":
        session.config._cxr_snapshots = {folder: snapshot(folder) for folder in (ROOT, data_folder()) if folder.is_dir()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    snapshots = getattr(session.config, "_cxr_snapshots", None)
    if not snapshots:
        return
    touched = [f"{folder}: {path}" for folder, before in snapshots.items() for path in changes(before, snapshot(folder))]
    if touched:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("the tests changed files outside their temporary folders:\n  " + "\n  ".join(touched[:20])
                   + ("\n  …" if len(touched) > 20 else ""))
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The offline PneumoniaMNIST folder ($CXR_DATA_DIR or ../shared/data); skip if absent."""
    folder = data_folder()
    if not (folder / "pneumoniamnist.npz").is_file():
        pytest.skip(f"no PneumoniaMNIST data at {folder}: set CXR_DATA_DIR")
    os.environ["CXR_DATA_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def stand_in_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``medgemma/`` and ``swin2sr/`` stand-ins, built once per session as the demo
    builds them (Gemma 3's real tokenizer when it can be had, else the word-level one)."""
    from cxr_lib.models.stand_ins import build_stand_ins

    folder = tmp_path_factory.mktemp("stand_ins")
    build_stand_ins(folder)
    return folder


@pytest.fixture(scope="session")
def gemma3_stand_in(stand_in_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MedGemma stand-in with Gemma 3's real tokenizer (the session's default one when it is that);
    skipped, with the reason, only when the tokenizer cannot be had."""
    from cxr_lib.errors import TokenizerUnavailableError
    from cxr_lib.models.stand_ins import build_medgemma_stand_in, medgemma_tokenizer, stand_in_info

    if stand_in_info(stand_in_dir / "medgemma").get("tokenizer") == "gemma3":
        return stand_in_dir / "medgemma"
    try:
        medgemma_tokenizer("gemma3")
    except TokenizerUnavailableError as exc:
        pytest.skip(f"Gemma 3's tokenizer is not available here ({exc})")
    return build_medgemma_stand_in(tmp_path_factory.mktemp("gemma3") / "medgemma", tokenizer="gemma3")


@pytest.fixture(scope="session")
def word_level_stand_in(stand_in_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MedGemma stand-in with the offline word-level tokenizer (the fallback variant)."""
    from cxr_lib.models.stand_ins import build_medgemma_stand_in, stand_in_info

    if stand_in_info(stand_in_dir / "medgemma").get("tokenizer") == "word-level":
        return stand_in_dir / "medgemma"
    return build_medgemma_stand_in(tmp_path_factory.mktemp("word_level") / "medgemma", tokenizer="word-level")


@pytest.fixture(scope="session")
def test_split(data_dir: Path):
    """The 28×28 test split."""
    from cxr_lib.data.datasets import load_split

    return load_split("test")


@pytest.fixture(scope="session")
def hr(data_dir: Path):
    """The high-resolution reference."""
    from cxr_lib.data.datasets import load_hr_reference

    return load_hr_reference()


def copy_project(target: Path) -> Path:
    """A copy of the checkout's sources (no virtual environment, results or built book) at ``target``."""
    ignore = shutil.ignore_patterns(*TOOL_CACHES, "*.egg-info", "results", "_build", "executed", "runs", "stand_ins")
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def run_book(root: Path, results: Path, env: dict[str, str], *extra: str,
             profile: str | Path = "offline") -> subprocess.CompletedProcess:
    """``cxr book --root ROOT --profile PROFILE --results RESULTS`` in a subprocess, run from ``root``."""
    command = [sys.executable, "-m", "cxr_lib", "book", "--root", str(root), "--profile", str(profile),
               "--results", str(results), *extra]
    return subprocess.run(command, cwd=root, env=env, timeout=1800, capture_output=True, text=True)


@dataclass(frozen=True)
class BuiltBook:
    """A copy of the project whose offline book was built by ``cxr book``, with a token in the environment
    and a made-up GitHub repository (:data:`MADE_UP_REPOSITORY`) as the one it is published from, then built
    again with nothing changed (the warm rerun)."""

    root: Path
    results: Path
    env: dict[str, str]
    data_changes: tuple[str, ...]  # files the builds created, changed or removed in the data folder
    log: str  # what the first build printed (stdout, then stderr)
    timings: dict  # the first build's timings file
    warm_log: str  # what the rerun printed
    warm_timings: dict  # the rerun's timings file

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"

    @property
    def executed(self) -> Path:
        return self.root / "book" / "executed"


@pytest.fixture(scope="session")
def offline_book(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The offline profile run end to end (notebooks and book) on a copy of the project, then again with
    nothing changed, once per session."""
    from cxr_lib.tooling.book import TIMINGS_FILE

    root = copy_project(tmp_path_factory.mktemp("book") / "project")
    env = {**os.environ, "HF_TOKEN": FAKE_TOKEN, "HUGGING_FACE_HUB_TOKEN": FAKE_TOKEN,
           "GITHUB_REPOSITORY": MADE_UP_REPOSITORY, "GITHUB_REF_NAME": MADE_UP_BRANCH}
    for setting in ("CXR_REPOSITORY", "GITHUB_REF", "GITHUB_BASE_REF"):  # only the made-up repository names one
        env.pop(setting, None)
    results = root / "results" / "offline"
    before = snapshot(data_dir)
    finished = run_book(root, results, env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    timings = json.loads((results / TIMINGS_FILE).read_text())
    again = run_book(root, results, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    return BuiltBook(root, results, env, tuple(changes(before, snapshot(data_dir))), finished.stdout + finished.stderr,
                     timings, again.stdout + again.stderr, json.loads((results / TIMINGS_FILE).read_text()))
