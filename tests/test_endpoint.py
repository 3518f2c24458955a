"""Reports through an OpenAI-compatible server: real servers started here on 127.0.0.1 — transformers'
own ``transformers serve`` and the project's ``cxr serve`` — serving the stand-in from its folder.

Both servers are started once per module on a free port and always stopped (fixture teardown).
The tests of ``transformers serve`` are skipped, with the reason, only when ``transformers[serving]``
is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cxr_lib.analysis.records import ResultCache
from cxr_lib.analysis.runner import run_prompt_grid, run_reports
from cxr_lib.app.serve import (
    LocalServer,
    cxr_serve_command,
    free_port,
    transformers_serve_available,
    transformers_serve_command,
)
from cxr_lib.cli import main
from cxr_lib.errors import EndpointError
from cxr_lib.models.endpoint import EndpointVLM, open_endpoint
from cxr_lib.models.endpoint_identity import served_identity
from cxr_lib.models.endpoint_messages import answer_score, sampling_fields
from cxr_lib.models.endpoint_transport import normalize_url
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.vlm import GenerationSettings, load_vlm

ROOT = Path(__file__).resolve().parents[1]
CASES = (1, 9, 22, 39, 44, 61, 67, 68)
#: The offline profile's report settings (profiles/offline.yaml: 48 new tokens, batches of 4), greedy.
SETTINGS = GenerationSettings(max_new_tokens=48, batch_size=4)
KEY = "cxr-test-key-0123456789"



# --------------------------------------------------------------------------- servers and data
@pytest.fixture(scope="module")
def stand_in(stand_in_dir):
    return stand_in_dir / "medgemma"


@pytest.fixture(scope="module")
def hf_server(stand_in, tmp_path_factory):
    """``transformers serve`` on the stand-in folder (CPU); skipped, with the reason, only when it cannot run here."""
    reason = transformers_serve_available()
    if reason is not None:
        pytest.skip(f"transformers serve cannot run here: {reason}")
    with LocalServer.start(lambda port: transformers_serve_command(stand_in, port),
                           tmp_path_factory.mktemp("hf_serve") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def cxr_server(stand_in, tmp_path_factory):
    """``cxr serve`` on the stand-in folder (CPU), no API key."""
    env = {k: v for k, v in os.environ.items() if k != "CXR_SERVE_API_KEY"}
    with LocalServer.start(lambda port: cxr_serve_command(stand_in, port, "--device", "cpu"),
                           tmp_path_factory.mktemp("cxr_serve") / "server.log", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def cases(data_dir):
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.data.datasets import load_split

    test = load_split("test")
    images = dict(zip(CASES, condition_images(test, CASES, "lanczos", 224, rgb=True)))
    return images, {i: test.label(i) for i in CASES}


@pytest.fixture(scope="module")
def in_process(stand_in, cases, tmp_path_factory):
    """The in-process reports and scores of the same cases (the reference), in their own cache."""
    images, truths = cases
    folder = tmp_path_factory.mktemp("in_process")
    frame = run_reports(load_vlm(stand_in), images, truths, condition="lanczos", settings=SETTINGS,
                        results_dir=folder, score=True, progress=False)
    return frame, folder


def settle(server: LocalServer, seconds: float = 1.0) -> int:
    """The server's request count once it has stopped changing (answers still in flight are logged late)."""
    count, since = server.requests(), time.monotonic()
    while time.monotonic() - since < seconds:
        time.sleep(0.1)
        now = server.requests()
        if now != count:
            count, since = now, time.monotonic()
    return count


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cxr: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


# --------------------------------------------------------------------------- agreement with the in-process path
def test_transformers_serve_reports_equal_in_process_and_are_keyed_apart(hf_server, stand_in, cases, in_process):
    images, truths = cases
    reference, reference_dir = in_process
    vlm = open_endpoint(hf_server.url, str(stand_in), concurrency=4)
    assert vlm.model_id == reference["model_id"].iloc[0] == "medgemma"  # the folder's name and content, not its path
    assert vlm.revision == reference["revision"].iloc[0] and vlm.is_stand_in

    # into the in-process run's folder: every report is asked of the server (its records say another
    # backend made them, so they are keyed apart), and equals the in-process one
    before = settle(hf_server)
    served = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=reference_dir,
                         score=False, progress=False)
    assert settle(hf_server) - before == len(CASES)
    columns = ["index", "text", "label", "rule", "stop_reason", "new_tokens", "prompt_tokens", "stand_in"]
    same = (served[columns] == reference[columns]).all(axis=1)
    assert same.all(), served.loc[~same, columns].to_dict("records")
    assert not set(served["key"]) & set(reference["key"])
    assert {m["backend"] for m in served["made_with"]} == {"endpoint"}
    assert {m["backend"] for m in reference["made_with"]} == {"in-process"}
    assert len(ResultCache(reference_dir)) == 2 * len(CASES)

    # asked again: every record comes from the cache, nothing is asked of the server
    before = settle(hf_server)
    again = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS, results_dir=reference_dir,
                        score=False, progress=False)
    assert settle(hf_server) == before and again.equals(served)


def test_cxr_serve_scores_and_reports_equal_in_process(cxr_server, stand_in, cases, in_process):
    images, truths = cases
    reference, reference_dir = in_process
    vlm = open_endpoint(cxr_server.url)  # the server's only model; its entry says stand-in and revision
    assert (vlm.model_id, vlm.revision, vlm.is_stand_in) == (reference["model_id"].iloc[0],
                                                               reference["revision"].iloc[0], True)
    assert vlm.top_logprobs > 262_000  # the whole vocabulary on offer: a stand-in's score is exact
    frame = run_reports(vlm, images, truths, condition="lanczos", settings=SETTINGS,
                        results_dir=reference_dir.parent / "cxr_fresh", score=True, progress=False)
    assert frame["text"].tolist() == reference["text"].tolist()
    assert frame["label"].tolist() == reference["label"].tolist()
    # the server says what it is and how it runs the model: all of it is in the records and their keys
    made = frame["made_with"].iloc[0]
    assert made["backend"] == "endpoint" and made["server"].startswith("cxr serve ")
    assert (made["dtype"], made["quantization"], made["device_kind"]) == ("float32", "none", "cpu")
    assert not set(frame["key"]) & set(reference["key"])
    diff = (frame["p_pneumonia"] - reference["p_pneumonia"]).abs()
    assert diff.max() < 1e-4, diff.tolist()
    thought = (frame["p_thought"] - reference["p_thought"]).abs()
    assert thought.max() < 1e-6


def test_prompt_strategies_and_languages_through_the_server(hf_server, stand_in, cases, tmp_path):
    images, truths = cases
    two = {i: images[i] for i in CASES[:2]}
    kwargs = dict(strategies=["reference", "structured"], languages=["en", "ar"], condition="lanczos",
                  settings=GenerationSettings(max_new_tokens=24, batch_size=4), progress=False)
    served = run_prompt_grid(open_endpoint(hf_server.url, str(stand_in)), two, truths, results_dir=tmp_path / "a", **kwargs)
    local = run_prompt_grid(load_vlm(stand_in), two, truths, results_dir=tmp_path / "b", **kwargs)
    assert len(served) == 8 and served["prompt"].str.contains("Please answer in Arabic").sum() == 4
    assert served["text"].tolist() == local["text"].tolist() and not set(served["key"]) & set(local["key"])


def test_stream_ends_in_the_generated_report(hf_server, stand_in, cases):
    images, _ = cases
    vlm = open_endpoint(hf_server.url, str(stand_in))
    settings = GenerationSettings(max_new_tokens=16)
    updates = list(vlm.stream_updates(images[22], "Describe this chest X-ray.", settings))
    (generated,) = vlm.generate([images[22]], ["Describe this chest X-ray."], settings)
    assert updates[-1].generation is not None and updates[-1].generation.text == generated.text
    assert len(updates) > 2 and all(generated.text.startswith(u.answer) for u in updates)  # a growing answer
    assert list(vlm.stream(images[22], "Describe this chest X-ray.", settings))[-1] == generated.text


def test_open_vlm_picks_the_backend(hf_server, stand_in):
    from cxr_lib.errors import ParameterError
    from cxr_lib.models.backends import open_vlm
    from cxr_lib.models.vlm import VLM

    local = open_vlm(stand_in, lazy=True, concurrency=8)  # concurrency is the endpoint's: not used here
    served = open_vlm(str(stand_in), endpoint=hf_server.url, concurrency=3, device="cpu")
    assert isinstance(local, VLM) and not local.loaded and isinstance(served, EndpointVLM)
    assert (served.model_id, served.revision, served.is_stand_in) == (local.model_id, local.revision, True)
    assert served.concurrency == 3
    with pytest.raises(ParameterError, match="4-bit"):
        open_vlm(str(stand_in), endpoint=hf_server.url, load_in_4bit=True)


# --------------------------------------------------------------------------- a run killed midway
KILLED_RUN = textwrap.dedent("""
    import sys
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.endpoint import open_endpoint
    from cxr_lib.analysis.runner import run_reports
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.models.vlm import GenerationSettings

    url, model, results = sys.argv[1], sys.argv[2], sys.argv[3]
    cases = [int(c) for c in sys.argv[4].split(",")]
    test = load_split("test")
    images = dict(zip(cases, condition_images(test, cases, "lanczos", 224, rgb=True)))
    run_reports(open_endpoint(url, model, concurrency=2), images, {c: test.label(c) for c in cases}, condition="lanczos",
                settings=GenerationSettings(max_new_tokens=96, batch_size=4), results_dir=results, score=False,
                progress=False)
""")


@pytest.mark.slow
def test_a_killed_run_resumes_without_asking_again(hf_server, stand_in, data_dir, tmp_path):
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.data.datasets import load_split

    cases = (1, 9, 22, 39, 44, 61, 67, 68, 71, 78, 100, 120)
    results = tmp_path / "results"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, hf_server.url, str(stand_in), str(results), ",".join(map(str, cases))],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    while time.time() < deadline and child.poll() is None and len(list(results.glob("??/*.json"))) < 3:
        time.sleep(0.02)
    assert child.poll() is None, child.stderr.read().decode()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    kept = {path.name: path.read_bytes() for path in results.glob("??/*.json")}
    assert 3 <= len(kept) < len(cases)

    test = load_split("test")
    images = dict(zip(cases, condition_images(test, cases, "lanczos", 224, rgb=True)))
    vlm = open_endpoint(hf_server.url, str(stand_in), concurrency=2)  # its check: two probe requests
    before = settle(hf_server)
    frame = run_reports(vlm, images, {c: test.label(c) for c in cases}, condition="lanczos",
                        settings=GenerationSettings(max_new_tokens=96, batch_size=4), results_dir=results,
                        score=False, progress=False)
    assert settle(hf_server) - before == len(cases) - len(kept)  # only the missing cases were asked
    assert frame["index"].tolist() == list(cases) and frame["key"].is_unique
    files = list(results.glob("??/*.json"))
    assert len(files) == len(cases)  # every case exactly once
    assert all(kept[name] == (results / name[:2] / name).read_bytes() for name in kept)  # finished ones untouched


# --------------------------------------------------------------------------- the command line
def report_args(tmp_path, *extra):
    return ["report", "--index", "22", "--results", str(tmp_path), "--max-new-tokens", "16", *extra]


def test_cli_report_through_the_server_shows_the_stand_in(hf_server, stand_in, data_dir, tmp_path, capsys):
    assert main(report_args(tmp_path, "--endpoint", hf_server.url, "--model", str(stand_in))) == 0
    out = capsys.readouterr().out
    assert STAND_IN_LABEL in out and "case 22" in out and "model: medgemma @ local-" in out
    assert str(stand_in.resolve()) not in out  # named by its folder name and content, not where it is
    # the server's default model (no --model): the same record, from the cache
    assert main(report_args(tmp_path, "--endpoint", hf_server.url, "--json")) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["stand_in"] is True and record["stand_in_label"] == STAND_IN_LABEL
    assert len(ResultCache(tmp_path)) == 1


def test_cli_scoring_without_logprobs_is_one_line(hf_server, stand_in, data_dir, tmp_path, capsys):
    assert main(report_args(tmp_path, "--endpoint", hf_server.url, "--score")) == 2
    line = one_error_line(capsys)
    assert "returned no log-probabilities" in line and "transformers serve ignores" in line


def test_cli_score_through_cxr_serve(cxr_server, data_dir, tmp_path, capsys):
    assert main(report_args(tmp_path, "--endpoint", cxr_server.url, "--score")) == 0
    assert "P(pneumonia), answer scoring:" in capsys.readouterr().out


def test_cli_unreachable_server(data_dir, tmp_path, capsys):
    started = time.monotonic()
    assert main(report_args(tmp_path, "--endpoint", f"http://127.0.0.1:{free_port()}/v1")) == 2
    assert "cannot reach the server" in one_error_line(capsys) and time.monotonic() - started < 20


def test_cli_wrong_model_name(hf_server, data_dir, tmp_path, capsys):
    assert main(report_args(tmp_path, "--endpoint", hf_server.url, "--model", "google/no-such-model")) == 2
    line = one_error_line(capsys)
    assert "does not serve model 'google/no-such-model'" in line and "pinned" in line


@pytest.mark.parametrize("bad", ["ftp://127.0.0.1:8000/v1", "http://user:secret@127.0.0.1:8000/v1", "not a url"])
def test_cli_bad_endpoint_urls(bad, data_dir, tmp_path, capsys):
    assert main(report_args(tmp_path, "--endpoint", bad)) == 2
    line = one_error_line(capsys)
    assert "secret" not in line


def test_cli_api_key_missing_then_wrong_then_right(stand_in, data_dir, tmp_path, capsys, monkeypatch):
    for name in ("CXR_ENDPOINT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with LocalServer.start(lambda port: cxr_serve_command(stand_in, port, "--device", "cpu"), tmp_path / "server.log",
                           env={"CXR_SERVE_API_KEY": KEY}) as server:
        assert main(report_args(tmp_path, "--endpoint", server.url)) == 2
        assert "wants an API key" in (line := one_error_line(capsys)) and "CXR_ENDPOINT_API_KEY" in line
        monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
        assert main(report_args(tmp_path, "--endpoint", server.url)) == 2
        assert "refused the API key in $OPENAI_API_KEY" in (line := one_error_line(capsys)) and "wrong-key" not in line
        monkeypatch.setenv("CXR_ENDPOINT_API_KEY", KEY)
        assert main(report_args(tmp_path / "results", "--endpoint", server.url, "--score", "--json")) == 0
        assert json.loads(capsys.readouterr().out)["stand_in"] is True
    assert server.process.poll() is not None  # stopped on leaving the block
    with pytest.raises(EndpointError, match="cannot reach"):
        open_endpoint(server.url)
    for path in tmp_path.rglob("*"):  # the key is in no record and no log line
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


def test_cli_server_that_ignores_images(stand_in, data_dir, tmp_path, capsys):
    """A text-only model behind transformers serve: the server drops the image without a word."""
    if transformers_serve_available() is not None:
        pytest.skip(f"transformers serve cannot run here: {transformers_serve_available()}")
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    folder = tmp_path / "text_only"
    tokenizer = AutoTokenizer.from_pretrained(stand_in)
    tokenizer.save_pretrained(folder)
    config_file = folder / "tokenizer_config.json"  # a text model's tokenizer names no image processor
    config_file.write_text(json.dumps({k: v for k, v in json.loads(config_file.read_text()).items()
                                       if k != "processor_class"}))
    config = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                              num_attention_heads=1, num_key_value_heads=1, head_dim=16,
                              layer_types=["full_attention"], pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(folder)
    capsys.readouterr()  # the saving's progress bar
    with LocalServer.start(lambda port: transformers_serve_command(folder, port), tmp_path / "server.log") as server:
        assert main(report_args(tmp_path / "results", "--endpoint", server.url, "--model", str(folder))) == 2
    line = one_error_line(capsys)
    assert "ignores images" in line and "image-text-to-text" in line


# --------------------------------------------------------------------------- retries, timeouts (a scripted HTTP server)
class Scripted(BaseHTTPRequestHandler):
    """Answers from a script: each entry (status, body, delay) is used once, the last one for ever."""

    script: list = []
    seen: list = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        Scripted.seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
        status, body, delay = Scripted.script.pop(0) if len(Scripted.script) > 1 else Scripted.script[0]
        time.sleep(delay)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if status == 429:
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


OK = {"choices": [{"message": {"content": "No acute findings.\nFinal answer: NORMAL"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 300, "completion_tokens": 9}}


def direct(url: str, **kwargs) -> EndpointVLM:
    return EndpointVLM(base_url=url, model_id="m", revision=None, is_stand_in=False, request_name="m",
                       _sleep=lambda s: None, **kwargs)


def test_429_and_5xx_are_retried_then_answered(scripted):
    from PIL import Image

    Scripted.script = [(429, {"error": {"message": "slow down"}}, 0), (503, {"error": "busy"}, 0), (200, OK, 0)]
    vlm = direct(scripted, retries=3)
    (generation,) = vlm.generate([Image.new("RGB", (8, 8))], ["Describe."], GenerationSettings(max_new_tokens=9))
    assert len(Scripted.seen) == 3 and generation.text.endswith("NORMAL") and generation.stop_reason == "eos"
    assert (generation.prompt_tokens, generation.new_tokens) == (300, 9)
    sent = json.loads(Scripted.seen[-1][2])
    assert sent["temperature"] == 0.0 and "seed" not in sent and sent["model"] == "m"
    assert sent["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_retries_run_out_in_one_line(scripted):
    from PIL import Image

    Scripted.script = [(500, {"detail": "kaput"}, 0)]
    with pytest.raises(EndpointError) as info:
        direct(scripted, retries=2).generate([Image.new("RGB", (8, 8))], ["Describe."])
    assert len(Scripted.seen) == 3 and "failed 3 time(s)" in str(info.value) and "kaput" in str(info.value)
    assert "\n" not in str(info.value)


def test_timeout_is_one_line(scripted):
    from PIL import Image

    Scripted.script = [(200, OK, 1.5)]
    with pytest.raises(EndpointError, match=r"no answer within 0\.5 s"):
        direct(scripted, retries=1, timeout=0.5).generate([Image.new("RGB", (8, 8))], ["Describe."])


def test_a_refused_image_is_one_line(scripted):
    from PIL import Image

    Scripted.script = [(400, {"error": {"message": "At most 0 image(s) may be provided in one prompt."}}, 0)]
    with pytest.raises(EndpointError, match="refused the image"):
        direct(scripted).generate([Image.new("RGB", (8, 8))], ["Describe."])


def test_requests_stay_within_the_concurrency(scripted):
    from PIL import Image

    Scripted.script = [(200, OK, 0.2)]
    started = time.monotonic()
    direct(scripted, concurrency=4).generate([Image.new("RGB", (8, 8))] * 8, ["Describe."] * 8)
    took = time.monotonic() - started
    assert len(Scripted.seen) == 8 and 0.35 < took < 1.5  # two waves of four, not eight at once nor one by one


# --------------------------------------------------------------------------- pieces
def test_sampling_sends_its_seed_greedy_does_not():
    greedy = sampling_fields(GenerationSettings(max_new_tokens=5))
    assert greedy == {"max_tokens": 5, "temperature": 0.0}
    sampled = sampling_fields(GenerationSettings(max_new_tokens=5, do_sample=True, temperature=0.7, top_p=0.9, seed=3))
    assert sampled == {"max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "seed": 3}


def test_urls():
    assert normalize_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert normalize_url("https://host/openai/v1/") == "https://host/openai/v1"
    for bad in ("http://k:s@host/v1", "host:8000", "http://host/v1?key=s"):
        with pytest.raises(EndpointError):
            normalize_url(bad)


def test_answer_scores_from_log_probabilities():
    import math

    table = {"Yes": math.log(0.6), "No": math.log(0.2), " yes": math.log(0.1), "<unused94>": math.log(0.05)}
    score = answer_score(table)
    assert score.p_pneumonia == pytest.approx(0.7 / 0.9) and score.p_thought == pytest.approx(0.05)
    one_sided = answer_score({"Yes": math.log(0.9), "The": math.log(0.05)})  # "no" bounded by the smallest listed
    assert score.p_pneumonia < one_sided.p_pneumonia == pytest.approx(0.9 / 0.95)
    with pytest.raises(EndpointError, match="neither 'yes' nor 'no'"):
        answer_score({"The": -0.1})


def test_stand_in_detection(stand_in, tmp_path):
    assert served_identity(str(stand_in)).is_stand_in  # the marker in its folder
    assert served_identity(str(stand_in) + "@main").model_id == "medgemma"
    assert served_identity("google/medgemma-1.5-4b-it", {"stand_in": True}).is_stand_in  # the server says so
    assert served_identity("/srv/results/stand_ins/medgemma").is_stand_in  # its path says so
    real = served_identity("google/medgemma-1.5-4b-it", {"id": "google/medgemma-1.5-4b-it", "root": "google/medgemma-1.5-4b-it"})
    assert not real.is_stand_in and real.revision is None
    assert served_identity("google/medgemma-1.5-4b-it@abc123").revision == "abc123"
    with pytest.raises(EndpointError, match="revision"):
        served_identity("google/medgemma-1.5-4b-it", {"revision": "abc"}, revision="def")


# --------------------------------------------------------------------------- the app
def test_app_streams_scores_and_labels_a_served_stand_in(cxr_server, data_dir, tmp_path):
    from cxr_lib.app.ui import SOURCE_DATASET, create_context, run_generation

    vlm = open_endpoint(cxr_server.url)
    ctx = create_context(vlm.model_id, vlm=vlm, results_dir=tmp_path)
    assert ctx.model_is_stand_in and STAND_IN_LABEL in ctx.banner()
    steps = list(run_generation(ctx, SOURCE_DATASET, 22, None, "lanczos", "Describe this chest X-ray.", "en",
                                False, 0.2, 0.9, 0, 16, True))
    record = steps[-1]["record"]
    assert record["stand_in"] and record["stand_in_label"] == STAND_IN_LABEL
    assert 0 <= record["p_pneumonia"] <= 1 and record["model_id"] == vlm.model_id
    (generated,) = vlm.generate([steps[-1]["case"].model_view], ["Describe this chest X-ray."],
                                GenerationSettings(max_new_tokens=16))
    assert record["text"] == generated.text


def test_the_vllm_profile_matches_the_notebooks():
    from cxr_lib.tooling import book

    profile = book.load_profile(ROOT / "profiles" / "vllm.yaml")
    for notebook in book.NOTEBOOKS:
        parameters = book.notebook_parameters(profile, notebook, {"results": "results/x", "stand_ins": "results/x/s"})
        book.check_parameters(ROOT / "notebooks" / f"{notebook}.ipynb", parameters)
        assert parameters["vlm_endpoint"].endswith("/v1") and parameters["vlm_model"] == "google/medgemma-1.5-4b-it"


def test_book_preflight_asks_the_server_not_the_hub(data_dir, tmp_path, monkeypatch):
    from cxr_lib.tooling import book

    monkeypatch.setattr(book, "check_hub_model", lambda model: (_ for _ in ()).throw(AssertionError(model)))
    profile = book.Profile("p", False, {"all": {"vlm_endpoint": f"http://127.0.0.1:{free_port()}/v1"},
                                         "01_baseline": {"vlm_model": "google/medgemma-1.5-4b-it"}})
    with pytest.raises(EndpointError, match="cannot reach the server"):
        book.preflight(profile, {"results": "r", "stand_ins": "s"})


def test_notebook_banner_asks_the_server_whether_it_serves_a_stand_in(cxr_server) -> None:
    from cxr_lib import study

    served = open_endpoint(cxr_server.url)
    banner = study.model_banner(served.request_name, endpoint=cxr_server.url)
    assert STAND_IN_LABEL in banner and cxr_server.url in banner
    # without the endpoint the same name is only a name: nothing says it is a stand-in
    assert STAND_IN_LABEL not in study.model_banner("google/medgemma-1.5-4b-it")
