"""Data on a fresh runtime: the ``download`` parameter fetches what is missing through medmnist.

MedMNIST's servers are not reachable here. The fake stands in for the one function medmnist 3.0.2
calls to fetch a file (``MedMNIST.download`` → ``torchvision.datasets.utils.download_url(url=INFO
["url{size}"], root, filename="<flag>{_size}.npz", md5=INFO["MD5{_size}"])``, medmnist/dataset.py):
it writes a MedMNIST-layout file of the official split sizes where torchvision would, and records
the call. Everything around it — medmnist's dataset class opening the file, this package's loaders
reading it — is the real code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from cxr_lib.data import datasets
from cxr_lib.errors import DataNotFoundError

OFFICIAL = {"train": 4708, "val": 524, "test": 624}


class FakeMedMNISTServer:
    """torchvision's ``download_url`` as medmnist uses it, writing small MedMNIST-layout files."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, url: str, root: str, filename: str | None = None, md5: str | None = None, **kwargs) -> None:
        self.calls.append({"url": url, "root": root, "filename": filename, "md5": md5})
        size = 224 if filename.endswith("_224.npz") else 28
        splits = ("test",) if size == 224 else tuple(OFFICIAL)  # the 224 file is big: only what is read here
        rng = np.random.default_rng(size)
        arrays = {}
        for split in splits:
            arrays[f"{split}_images"] = rng.integers(0, 256, (OFFICIAL[split], size, size), dtype=np.uint8)
            arrays[f"{split}_labels"] = (np.arange(OFFICIAL[split]) % 2).astype(np.uint8)[:, None]
        np.savez(Path(root) / filename, **arrays)


@pytest.fixture
def fresh_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere: an empty home (medmnist's root is ~/.medmnist), no $CXR_DATA_DIR, an empty data folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CXR_DATA_DIR", raising=False)
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


@pytest.fixture
def medmnist_server(monkeypatch: pytest.MonkeyPatch) -> FakeMedMNISTServer:
    import torchvision.datasets.utils

    server = FakeMedMNISTServer()
    monkeypatch.setattr(torchvision.datasets.utils, "download_url", server)
    return server


def test_download_fetches_both_files_through_medmnist(fresh_runtime: Path, medmnist_server: FakeMedMNISTServer) -> None:
    fetched = datasets.fetch_missing(fresh_runtime, download=True, hr_reference=True)
    info = datasets.dataset_info()
    root = str(Path.home() / ".medmnist")
    assert medmnist_server.calls == [
        {"url": info["url"], "root": root, "filename": "pneumoniamnist.npz", "md5": info["MD5"]},
        {"url": info["url_224"], "root": root, "filename": "pneumoniamnist_224.npz", "md5": info["MD5_224"]},
    ]
    assert fetched == [Path(root) / "pneumoniamnist.npz", Path(root) / "pneumoniamnist_224.npz"]
    assert not any(fresh_runtime.iterdir())  # the data folder is never written
    assert len(datasets.load_split("test", data_dir=fresh_runtime)) == 624
    hr = datasets.load_hr_reference(fresh_runtime)
    assert hr.official and len(hr) == 624 and hr.image(0).shape == (224, 224)
    assert datasets.fetch_missing(fresh_runtime, download=True, hr_reference=True) == []  # found now: nothing fetched
    assert len(medmnist_server.calls) == 2


def test_cxr_data_download_fetches_both_files(fresh_runtime: Path, medmnist_server: FakeMedMNISTServer) -> None:
    """What `make data` runs (`cxr data --download`) on a runner with no data folder."""
    lines = datasets.data_summary(download=True)
    assert [call["filename"] for call in medmnist_server.calls] == ["pneumoniamnist.npz", "pneumoniamnist_224.npz"]
    assert lines[2] == "test: 624 images (312 normal / 312 pneumonia)"  # the fake file's labels alternate
    assert lines[-1] == "high-resolution reference: 624 test images have one (official MedMNIST+ 224, ~/.medmnist/pneumoniamnist_224.npz)"


def test_download_fetches_only_what_is_missing(fresh_runtime: Path, medmnist_server: FakeMedMNISTServer, data_dir: Path) -> None:
    assert datasets.fetch_missing(data_dir, download=True, hr_reference=True) == []  # the 28×28 file and the HR subset
    (fresh_runtime / "pneumoniamnist.npz").symlink_to(data_dir / "pneumoniamnist.npz")
    datasets.fetch_missing(fresh_runtime, download=True, hr_reference=True)
    assert [call["filename"] for call in medmnist_server.calls] == ["pneumoniamnist_224.npz"]


def test_download_defaults_to_on_in_colab_only(fresh_runtime: Path, medmnist_server: FakeMedMNISTServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(DataNotFoundError):
        datasets.fetch_missing(fresh_runtime)
    assert medmnist_server.calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))  # imported in every Colab kernel
    datasets.fetch_missing(fresh_runtime)
    assert [call["filename"] for call in medmnist_server.calls] == ["pneumoniamnist.npz"]


def test_with_download_off_one_line_names_the_parameter(fresh_runtime: Path) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        datasets.fetch_missing(fresh_runtime, download=False, hr_reference=True)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("pneumoniamnist.npz and pneumoniamnist_224.npz not found (searched ")
    assert message.endswith(": set the parameter download=True to fetch them with medmnist, or data_dir "
                            "(or $CXR_DATA_DIR) to a folder holding them")
    with pytest.raises(DataNotFoundError, match="data folder .* does not exist"):
        datasets.fetch_missing(fresh_runtime / "missing", download=True)


def test_offline_the_download_fails_in_one_line(fresh_runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.utils

    def unreachable(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torchvision.datasets.utils, "download_url", unreachable)
    with pytest.raises(DataNotFoundError, match=r"^could not download pneumoniamnist.npz into .* \(RuntimeError\): check the network"):
        datasets.fetch_missing(fresh_runtime, download=True)


def notebook_code(name: str) -> list[str]:
    """A committed notebook's code cells, in order."""
    return [cell.source for cell in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells
            if cell.cell_type == "code"]


def test_notebook_two_with_download_on_fetches_both_files(fresh_runtime: Path, medmnist_server: FakeMedMNISTServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Its first cells as they are (parameters, Colab install, imports and data), with papermill's overrides."""
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    cells = notebook_code("02_super_resolution")
    first = cells[:next(i for i, source in enumerate(cells) if "study.fetch_data(" in source) + 1]
    namespace: dict = {}
    for source in [first[0], f"data_dir = {str(fresh_runtime)!r}\ndownload = True\n", *first[1:]]:
        exec(compile(source, "<02_super_resolution>", "exec"), namespace)  # noqa: S102 - the notebook's own code
    assert [call["filename"] for call in medmnist_server.calls] == ["pneumoniamnist.npz", "pneumoniamnist_224.npz"]


def test_notebook_run_with_no_data_and_download_off_stops_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CXR_DATA_DIR"}
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    out = tmp_path / "run"
    profile = tmp_path / "bare.yaml"  # the notebook's own defaults: no models are built or loaded before the data step
    profile.write_text("name: bare\nstand_ins: false\n")
    finished = subprocess.run(
        [sys.executable, "-m", "cxr_lib", "rerun", "03_prompting", "--profile", str(profile), "--out", str(out),
         "--root", str(ROOT), "--parameters", f"{{data_dir: {str(tmp_path / 'empty')!r}, download: false}}"],
        env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 2, finished.stderr
    error = [line for line in finished.stderr.splitlines() if line.startswith("cxr: error:")]
    assert len(error) == 1 and finished.stderr.strip().endswith(error[0]) and "Traceback" not in finished.stderr
    assert error[0].startswith("cxr: error: 03_prompting stopped in cell ")
    assert "with DataNotFoundError: pneumoniamnist.npz not found (searched " in error[0]
    assert "set the parameter download=True to fetch it with medmnist" in error[0]
    # the executed notebook is kept, and shows the error as that one line, without a traceback
    executed = nbformat.read(out / "03_prompting.ipynb", as_version=4)
    errors = [output for cell in executed.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "DataNotFoundError"
    assert errors[0].traceback == [f"DataNotFoundError: {errors[0].evalue}"]
    assert not any((tmp_path / "empty").iterdir()) and not (tmp_path / "home" / ".medmnist").exists()


# --------------------------------------------------------------------------- MedMNIST+'s own 224×224 file


@pytest.fixture(scope="module")
def medmnist_224(hr) -> datasets.HRReference:
    """A high-resolution reference read from MedMNIST+'s ``pneumoniamnist_224.npz`` (``official``), for three
    test images (their pixels here come from the local subset; only where they came from matters)."""
    rows = [hr.available().index(i) for i in hr.available()[:3]]
    return datasets.HRReference(hr.images[rows], hr.test_index[rows], Path("pneumoniamnist_224.npz"), True)


def test_committed_fidelity_is_computed_now_on_medmnist_224(test_split, hr, medmnist_224) -> None:
    from cxr_lib.analysis.fidelity import combined_scores
    from cxr_lib.errors import DataError

    committed = "artifacts/fidelity/fidelity_realesrgan.csv"  # scored on the 555-image subset
    subset_like = datasets.HRReference(medmnist_224.images, medmnist_224.test_index, medmnist_224.path, False)
    with pytest.raises(DataError, match="which has no real high-resolution image here"):
        combined_scores(test_split, subset_like, ["lanczos"], committed, ["realesr-animevideov3-x4"])
    table, note = combined_scores(test_split, medmnist_224, ["lanczos"], committed, ["realesr-animevideov3-x4"])
    assert set(table["method"]) == {"lanczos", "realesr-animevideov3-x4"}
    assert sorted(set(table["index"])) == medmnist_224.available()
    assert table["ms_per_image"].notna().all()  # computed here, not read
    assert "was made on the high-resolution test subset, not on MedMNIST+'s 224×224 file" in note


def test_committed_reader_predictions_are_made_now_on_medmnist_224(test_split, medmnist_224) -> None:
    from cxr_lib.analysis.reader import FAMILY, combined_predictions
    from cxr_lib.errors import PredictionsError
    from cxr_lib.models.hr_reader import load_reader

    reader = load_reader("artifacts/hr_reader")
    committed = "artifacts/hr_reader/predictions_test.csv"  # the 555 images of the subset
    subset_like = datasets.HRReference(medmnist_224.images, medmnist_224.test_index, medmnist_224.path, False)
    with pytest.raises(PredictionsError, match="do not cover the 3 test images"):
        combined_predictions(reader, test_split, subset_like, ["hr"], committed, spot_check=0)
    frame, note = combined_predictions(reader, test_split, medmnist_224, ["hr"], committed, spot_check=0)
    assert set(frame["input"]) == set(FAMILY) and len(frame) == len(FAMILY) * 3  # the whole family, made now
    assert note.startswith("Predicted now on the test images: hr, ") and "not on MedMNIST+'s 224×224 file" in note
