"""Servers as they really answer: smaller log-probability caps (TGI's 5, a vLLM started with a low
``--max-logprobs``), and what each reports about itself (vLLM's ``/version``, TGI's ``/info``).

The fakes and their sources are in ``fake_servers.py``.
"""

from __future__ import annotations

import json
import math

import pytest
from fake_servers import ANSWER_LOGPROBS, Fake, FakeServer

from cxr_lib.analysis.records import ResultCache
from cxr_lib.cli import main
from cxr_lib.errors import EndpointError
from cxr_lib.models.endpoint import open_endpoint
from cxr_lib.models.endpoint_messages import answer_score, logprob_cap


def image():
    from PIL import Image

    return Image.new("RGB", (32, 32), (90, 90, 90))


def exact_score() -> float:
    """P(pneumonia) with every yes and no spelling listed (the whole table)."""
    p = {t: math.exp(v) for t, v in ANSWER_LOGPROBS.items()}
    yes = sum(p[s] for s in ("yes", "Yes", " yes", " Yes"))
    no = sum(p[s] for s in ("no", "No", " no", " No"))
    return yes / (yes + no)


@pytest.mark.parametrize("message, cap", [
    ("Requested sample logprobs of 20, which is greater than max allowed: 5", 5),  # vLLM
    ("Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 20", 5),  # TGI
    ("top_logprobs must be between 0 and 5", None), ("the model is loading", None),
])
def test_the_cap_is_read_from_vllm_and_tgi_refusals(message, cap):
    assert logprob_cap(message) == cap


@pytest.mark.parametrize("kind", ["tgi", "vllm"])
def test_a_server_capped_at_5_logprobs_still_scores_and_says_so(kind):
    fake = Fake(kind=kind, version="3.3.4" if kind == "tgi" else "0.9.1", max_logprobs=5)
    with FakeServer(fake) as url:
        vlm = open_endpoint(url, concurrency=1)
        (first, second) = vlm.score_answers([image(), image()])
    asked = [r[2]["top_logprobs"] for r in fake.requests if r[0] == "POST" and r[2].get("logprobs")]
    assert asked[0] == 20 and set(asked[1:]) == {5} and vlm.logprob_cap == 5  # refused once, then the cap is kept
    # the top five hold "Yes", "No", "yes", " Yes", "no": " No", " yes", " no" fall outside and are named
    assert first.note.startswith("the server gives at most 5 log-probabilities per token")
    assert "' No'" in first.note and "' yes'" in first.note and "'Yes'" not in first.note
    assert first.p_pneumonia == second.p_pneumonia == pytest.approx(exact_score(), abs=0.02)
    assert first.p_thought is None  # <unused94> is not among the five


def test_a_cap_without_a_number_stays_one_line():
    fake = Fake(kind="tgi", max_logprobs=5)
    fake.post = lambda body: (422, {"error": "Input validation error: `top_n_tokens` is too large",
                                    "error_type": "validation"}) if body.get("logprobs") else (200, {})
    with FakeServer(fake) as url:
        vlm = open_endpoint(url, check=False)
        with pytest.raises(EndpointError, match="HTTP 422") as info:
            vlm.score_answers([image()])
    assert "\n" not in str(info.value)


def test_cli_score_through_tgi_records_the_cap(data_dir, tmp_path, capsys):
    with FakeServer(Fake(kind="tgi", version="3.3.4", max_logprobs=5)) as url:
        assert main(["report", "--index", "22", "--results", str(tmp_path), "--endpoint", url, "--score",
                     "--max-new-tokens", "32", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert 0 < record["p_pneumonia"] < 1 and "at most 5 log-probabilities" in record["score_note"]
    assert record["made_with"] == {"backend": "endpoint", "server": "TGI 3.3.4", "dtype": "bfloat16",
                                   "quantization": "not reported", "attention": "not reported", "device_kind": "cuda"}
    (stored,) = ResultCache(tmp_path).records()
    assert stored.score_note == record["score_note"]


def test_what_vllm_reports_about_itself_is_in_the_key(data_dir, tmp_path):
    from cxr_lib.analysis.runner import report_for_case
    from cxr_lib.models.vlm import GenerationSettings

    settings = GenerationSettings(max_new_tokens=16, batch_size=1)
    with FakeServer(Fake(version="0.9.1")) as url:
        first = report_for_case(None, 22, endpoint=url, settings=settings, results_dir=tmp_path)
    with FakeServer(Fake(version="0.10.0")) as url:
        upgraded = report_for_case(None, 22, endpoint=url, settings=settings, results_dir=tmp_path)
    assert first.made_with["server"] == "vLLM 0.9.1" and first.made_with["dtype"] == "not reported"
    assert upgraded.made_with["server"] == "vLLM 0.10.0" and upgraded.key != first.key
    assert len(ResultCache(tmp_path)) == 2


def test_identity_probes_never_fail_the_opening():
    fake = Fake(kind="vllm")
    fake.get = lambda path: (200, fake.models()) if path == "/v1/models" else (500, {"detail": "boom"})
    with FakeServer(fake) as url:
        vlm = open_endpoint(url)
    assert vlm.made_with()["server"] == "vLLM"  # named by its models entry; no version reported


def test_answer_score_note_is_empty_when_everything_is_listed():
    assert answer_score(ANSWER_LOGPROBS, asked=20).note == ""
