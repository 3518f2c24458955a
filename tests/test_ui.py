"""The Gradio app, through a live server: `cxr ui` with the stand-in, driven by gradio_client.

One server per module (started by the CLI, as a user would), so the startup time is measured
once and every request goes through the real queue, preprocessing and error paths.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import image_cases
import pytest
from live_app import free_port, serving

from cxr_lib.errors import ParameterError, PromptError, ServerError
from cxr_lib.models.provenance import STAND_IN_LABEL

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

STARTUP_LIMIT_S = 30.0
ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Describe this chest X-ray."


def wait_for(url: str, process: subprocess.Popen, limit: float, log: Path) -> float:
    """Seconds until ``url`` answers (fails the test if the process dies or time runs out)."""
    import urllib.request

    start = time.perf_counter()
    while time.perf_counter() - start < limit + 30:
        if process.poll() is not None:
            pytest.fail(f"`cxr ui` exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"`cxr ui` did not answer at {url} within {limit + 30:.0f} s")


@pytest.fixture(scope="module")
def server(stand_in_dir, data_dir, tmp_path_factory):
    """`cxr ui --model <stand-in> --port N` in a subprocess: (url, startup seconds, downloads folder)."""
    port = free_port()
    results = tmp_path_factory.mktemp("ui_results")
    command = [sys.executable, "-m", "cxr_lib", "ui", "--model", str(stand_in_dir / "medgemma"),
               "--sr-model", str(stand_in_dir / "swin2sr"), "--port", str(port), "--results", str(results)]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    log = results / "server.log"  # a file, not a pipe: a full pipe would block the server
    with open(log, "w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        seconds = wait_for(url, process, STARTUP_LIMIT_S, log)
        print(f"\n`cxr ui` with the stand-in answered after {seconds:.1f} s")
        yield url, seconds, results
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server[0], verbose=False)


def request(**changes) -> dict:
    """The /generate arguments (a short greedy report on reference case 22), with changes."""
    args = dict(source="test image", index=22, upload=None, upscaler="lanczos", prompt=QUESTION, language="en",
                sampling="greedy", temperature=0.2, top_p=0.9, seed=0, max_new_tokens=12, score=False)
    args.update(changes)
    return args


def generate(client: Client, **changes):
    return client.predict(*request(**changes).values(), api_name="/generate")


def model_view_sha(index: int, upscaler: str = "lanczos") -> str:
    from cxr_lib.analysis.records import image_sha256
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.upscale import upscale

    return image_sha256(upscale(load_split("test").image(index), upscaler, 224))


# --------------------------------------------------------------------------- the must-shows


def test_cli_starts_in_under_30_seconds(server):
    assert server[1] < STARTUP_LIMIT_S


def test_report_and_reading_come_back(client, server):
    from cxr_lib.analysis.labels import read_report
    from cxr_lib.analysis.records import Record, ResultCache

    report, reading, verdict, md_path, json_path, record, thought = generate(client)
    assert isinstance(report, str) and report.strip()
    assert record["text"] == report
    assert record["thought"] == thought and record["thought_state"] in ("none", "closed", "unclosed")
    assert record["label"] in ("normal", "pneumonia", "uncertain")
    cut_off = record["stop_reason"] == "max_new_tokens"  # read as the runner reads it: a cut-off report abstains
    expected = read_report(report, cut_off=cut_off, thought_only=record["thought_state"] != "none" and not report.strip())
    assert (record["label"], record["evidence"], record["rule"]) == (expected.label, expected.evidence, expected.rule)
    assert f"Reading: {record['label']}" in verdict and "Ground truth: **pneumonia**" in verdict
    assert "".join(part["token"] for part in reading) == report  # the highlighted text is the whole report
    # the record: model id and revision, prompt, parameters, the image it saw
    assert record["model_id"].endswith("medgemma") and record["revision"]
    assert record["prompt"] == QUESTION and record["language"] == "en"
    assert record["settings"]["max_new_tokens"] == 12 and record["settings"]["do_sample"] is False
    assert record["index"] == 22 and record["truth"] == 1 and record["condition"] == "lanczos"
    assert record["image_sha256"] == model_view_sha(22)
    assert record["stand_in"] is True and record["stand_in_label"] == STAND_IN_LABEL
    # the record is the runner's kind, and the app's result cache holds it
    cached = ResultCache(server[2]).get(Record.from_dict(record).key)
    assert cached is not None and cached.to_labelled_dict() == {k: v for k, v in record.items() if k not in ("id", "input")}
    assert record["id"] == cached.key[:12]
    # the downloads: the same record as JSON, and Markdown labelled as stand-in output
    assert json.loads(Path(json_path).read_text()) == record
    markdown = Path(md_path).read_text()
    assert STAND_IN_LABEL in markdown and report in markdown and QUESTION in markdown
    assert "Ground truth: pneumonia" in markdown and "Upscaler: lanczos" in markdown
    assert (server[2] / Path(json_path).name).is_file()  # written to --results


def test_stand_in_banner_is_on_the_page(server):
    import urllib.request

    with urllib.request.urlopen(server[0] + "config", timeout=10) as response:
        config = json.loads(response.read())
    banners = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "stand-in-banner"]
    assert banners and STAND_IN_LABEL in banners[0]["props"]["value"]


def test_greedy_is_deterministic_and_sampling_is_seeded(client):
    assert generate(client)[0] == generate(client)[0]
    first = generate(client, sampling="sampling", temperature=1.0, top_p=1.0, seed=7)
    again = generate(client, sampling="sampling", temperature=1.0, top_p=1.0, seed=7)
    assert first[0] == again[0]
    assert first[5]["settings"]["do_sample"] is True and first[5]["settings"]["seed"] == 7


def test_arabic_prompt_and_score(client):
    *_, record, _ = generate(client, language="ar", score=True)
    assert record["language"] == "ar" and record["prompt"].endswith("Please answer in Arabic.")
    assert 0.0 <= record["p_pneumonia"] <= 1.0
    assert record["p_thought"] is None or 0.0 <= record["p_thought"] <= 1.0


def test_preview_shows_original_model_view_and_hr(client):
    from PIL import Image

    from cxr_lib.data.datasets import load_hr_reference

    index = load_hr_reference().available()[0]
    original, view, hr, info = client.predict("test image", index, None, "swin2sr", api_name="/preview")
    assert Image.open(view).size == (224, 224)
    assert Image.open(original).size[0] >= 28 and hr is not None
    assert f"Test image {index}" in info and "swin2sr (STAND-IN)" in info


def test_preset_fills_the_prompt(client):
    from cxr_lib.models.prompts import UI_PRESETS

    name, text = list(UI_PRESETS.items())[1]
    assert client.predict(name, api_name="/preset") == text


@pytest.mark.parametrize("name", list(image_cases.GOOD))
def test_uploads_in_any_format_get_a_report(client, tmp_path, name):
    file_name, write = image_cases.GOOD[name]
    path = write(tmp_path / file_name)
    report, *_, record, _ = generate(client, source="uploaded file", upload=handle_file(str(path)))
    assert report and record["input"]["file_name"] == file_name and record["index"] is None and record["truth"] is None


# --------------------------------------------------------------------------- bad input, through the app

BAD_REQUESTS = {
    "empty prompt": (dict(prompt="  \n\t "), "prompt is empty"),
    "control characters only": (dict(prompt="\x00\x07\x1b"), "prompt is empty"),
    "very long prompt": (dict(prompt="x" * 5000), "limit is 4000"),
    "too many tokens": (dict(max_new_tokens=100_000), "maximum value 1024"),
    "too few tokens": (dict(max_new_tokens=0), "minimum value 8"),
    "negative seed": (dict(seed=-5), "less than minimum value 0"),
    "unknown language": (dict(language="klingon"), "klingon"),
    "unknown upscaler": (dict(upscaler="magic"), "magic"),
    "index out of range": (dict(index=100_000), "out of range"),
    "no file uploaded": (dict(source="uploaded file"), "no file uploaded"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gives_a_message(client, name):
    changes, phrase = BAD_REQUESTS[name]
    with pytest.raises(AppError, match=phrase):
        generate(client, **changes)


@pytest.mark.parametrize("name", list(image_cases.BAD))
def test_bad_upload_gives_a_message(client, tmp_path, name):
    file_name, write, phrase = image_cases.BAD[name]
    path = write(tmp_path / file_name)
    with pytest.raises(AppError, match=phrase):
        generate(client, source="uploaded file", upload=handle_file(str(path)))
    with pytest.raises(AppError, match=phrase):  # the preview says the same
        client.predict("uploaded file", 0, handle_file(str(path)), "lanczos", api_name="/preview")


def test_upload_over_the_size_limit_is_refused(server, tmp_path):
    import httpx

    from cxr_lib.data.images import MAX_FILE_BYTES

    big = tmp_path / "big.png"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1024)  # sparse: instant to write
    with open(big, "rb") as handle:
        response = httpx.post(server[0] + "gradio_api/upload", files={"files": ("big.png", handle)}, timeout=120)
    assert response.status_code == 413 and "maximum allowed size" in response.text


def test_non_image_file_type_is_refused(client, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(AppError, match="Invalid file type"):
        generate(client, source="uploaded file", upload=handle_file(str(path)))


def test_app_keeps_serving_after_errors(client):
    for changes, _ in BAD_REQUESTS.values():
        with pytest.raises(AppError):
            generate(client, **changes)
    assert generate(client)[0]


def test_ten_concurrent_requests_are_not_crossed(client):
    """Ten users at once, each with their own image and prompt: each gets their own answer."""
    from cxr_lib.data.datasets import REFERENCE_CASES

    asks = [request(index=i, prompt=f"Case {n}: describe this chest X-ray briefly.", seed=n)
            for n, i in enumerate(REFERENCE_CASES)]
    jobs = [client.submit(*ask.values(), api_name="/generate") for ask in asks]
    answers = [job.result(timeout=120) for job in jobs]
    for ask, answer in zip(asks, answers):
        record = answer[5]
        assert record["index"] == ask["index"]
        assert record["prompt"] == ask["prompt"]
        assert record["image_sha256"] == model_view_sha(ask["index"])
        assert record["text"] == answer[0]
    # the same requests one at a time give the same reports (greedy decoding)
    for ask, answer in zip(asks[:3], answers[:3]):
        assert client.predict(*ask.values(), api_name="/generate")[0] == answer[0]
    assert len({a[5]["id"] for a in answers}) == len(answers)


# --------------------------------------------------------------------------- a model that fails to load


def test_model_that_fails_to_load_is_explained_in_the_page(data_dir, tmp_path):
    from cxr_lib.app.ui import build_app

    app = build_app(str(tmp_path / "no-such-model"), results_dir=tmp_path / "results")
    with serving(app) as url:
        config = Client(url, verbose=False)
        with pytest.raises(AppError, match="could not be loaded"):
            config.predict(*request().values(), api_name="/generate")
        # the rest of the page still works
        *_, info = config.predict("test image", 1, None, "nearest", api_name="/preview")
        assert "Test image 1" in info
        banner = [b for b in app.config["components"] if b.get("props", {}).get("elem_id") == "load-error-banner"]
        assert banner and "no-such-model" in banner[0]["props"]["value"]


# --------------------------------------------------------------------------- the functions behind the page


def test_clean_prompt_removes_control_characters():
    from cxr_lib.app.ui import clean_prompt

    assert clean_prompt("  Describe\x00 this\x1b X-ray.\n") == "Describe this X-ray."
    assert clean_prompt("صف هذه الصورة") == "صف هذه الصورة"
    with pytest.raises(PromptError):
        clean_prompt(None)


def test_make_settings_checks_ranges():
    from cxr_lib.app.ui import make_settings

    greedy = make_settings("greedy", 0.2, 0.9, 3, 64.0)  # a slider may send a whole float
    assert not greedy.do_sample and greedy.max_new_tokens == 64 and greedy.seed == 3
    assert (greedy.temperature, greedy.top_p) == (1.0, 1.0)  # unused when greedy: not recorded as set
    sampled = make_settings("sampling", 0.7, 0.8, 1, 32)
    assert sampled.do_sample and sampled.temperature == 0.7 and sampled.top_p == 0.8
    for bad in [("sampling", 0.0, 0.9, 0, 32), ("sampling", 0.5, 1.5, 0, 32), ("greedy", 0.2, 0.9, -1, 32),
                ("greedy", 0.2, 0.9, 0, "lots"), ("greedy", 0.2, 0.9, 0, float("nan"))]:
        with pytest.raises(ParameterError):
            make_settings(*bad)


def test_launch_refuses_a_taken_port(data_dir, tmp_path):
    from cxr_lib.app.ui import build_app, launch

    app = build_app(str(tmp_path / "no-model"), results_dir=tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(ServerError, match="is in use: choose another --port"):
            launch(app, port=sock.getsockname()[1], block=False)
    with pytest.raises(ServerError):
        launch(app, port=70000, block=False)


def test_cli_refuses_a_bad_port_before_loading_anything(capsys):
    from cxr_lib.cli import main

    assert main(["ui", "--model", "no-such/model", "--port", "70000"]) == 2
    assert "cxr: error: port 70000 is not a port number" in capsys.readouterr().err


def test_upscaler_menu_names_stand_ins_and_real_weights(stand_in_dir, data_dir, tmp_path) -> None:
    from cxr_lib.app.ui import create_context
    from cxr_lib.models.upscale import METHODS

    ctx = create_context("no-such-model-folder", sr_model=str(stand_in_dir / "swin2sr"), data_dir=data_dir,
                         results_dir=tmp_path)
    shown = dict((value, name) for name, value in ctx.upscaler_choices())
    assert list(shown) == list(METHODS)
    assert "STAND-IN" in shown["swin2sr"] and shown["lanczos"] == "lanczos"
    assert "real weights" in shown["realesrgan-x4plus"] and "real weights" in shown["swin2sr-cxr"]
    assert not any("STAND-IN" in name for method, name in shown.items() if method != "swin2sr")
