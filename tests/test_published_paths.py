"""What readers see names files relative to the project or the data folder, never by a path of the
machine that built it; and building the book leaves the data folder as it was."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, BuiltBook

TEXT_SUFFIXES = {".html", ".ipynb", ".json", ".csv", ".md", ".txt", ".yml", ".yaml", ".js", ".svg"}


def local_paths(offline_book: BuiltBook, data_dir: Path) -> list[str]:
    """Absolute paths that must not appear: the checkout, the copy that was built, the data folder,
    the home folder, the Python installation and the temporary folder."""
    return sorted({f"{path}/" for path in (ROOT, offline_book.root, data_dir.resolve(), Path.home(), Path(sys.prefix))}
                  | {f"{Path(tempfile.gettempdir())}/", "/tmp/"})


def leaks(folders: list[Path], needles: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                text = path.read_text(errors="replace")
                found += [f"{path.relative_to(folder.parent)}: {needle}" for needle in needles if needle in text]
    return found


@pytest.mark.slow
def test_book_and_executed_notebooks_name_no_local_path(offline_book: BuiltBook, data_dir: Path) -> None:
    needles = local_paths(offline_book, data_dir)
    assert leaks([offline_book.html, offline_book.executed], needles) == []
    # the parameters the notebooks got are relative to the project
    executed = (offline_book.executed / "01_baseline.ipynb").read_text()
    assert 'results_dir = \\"results/offline\\"' in executed


def committed_files(*folders: str) -> list[Path]:
    """The files git tracks under ``folders`` (every file there when this is not a git checkout,
    build outputs aside)."""
    listed = subprocess.run(["git", "ls-files", "-z", *folders], cwd=ROOT, capture_output=True)
    if listed.returncode == 0:
        return [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    return [p for folder in folders for p in (ROOT / folder).rglob("*") if p.is_file() and "executed" not in p.parts]


def test_committed_artifacts_name_no_local_path(data_dir: Path) -> None:
    needles = sorted({f"{ROOT}/", f"{data_dir.resolve()}/", f"{Path.home()}/", "/tmp/"})
    files = [p for p in committed_files("artifacts", "book", "notebooks", "profiles") if p.suffix in TEXT_SUFFIXES]
    assert len(files) > 10
    found = [f"{p.relative_to(ROOT)}: {needle}" for p in files for needle in needles
             if needle in p.read_text(errors="replace")]
    assert found == []


@pytest.mark.slow
def test_building_the_book_writes_nothing_into_the_data_folder(offline_book: BuiltBook) -> None:
    assert offline_book.data_changes == ()
