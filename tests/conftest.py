"""Shared fixtures: the data folder, and stand-in models built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The offline PneumoniaMNIST folder ($CXR_DATA_DIR or ../shared/data); skip if absent."""
    folder = Path(os.environ.get("CXR_DATA_DIR") or SHARED_DATA)
    if not (folder / "pneumoniamnist.npz").is_file():
        pytest.skip(f"no PneumoniaMNIST data at {folder}: set CXR_DATA_DIR")
    os.environ["CXR_DATA_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def stand_in_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``medgemma/`` and ``swin2sr/`` stand-ins, built once per session."""
    from cxr_lib.stand_ins import build_stand_ins

    folder = tmp_path_factory.mktemp("stand_ins")
    build_stand_ins(folder)
    return folder


@pytest.fixture(scope="session")
def test_split(data_dir: Path):
    """The 28×28 test split."""
    from cxr_lib.data import load_split

    return load_split("test")


@pytest.fixture(scope="session")
def hr(data_dir: Path):
    """The high-resolution reference."""
    from cxr_lib.data import load_hr_reference

    return load_hr_reference()
