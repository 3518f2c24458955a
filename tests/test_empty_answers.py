"""No empty answer is ever a report: a probe on opening, a run that stops, nothing cached.

Through a server: fakes of vLLM serving Gemma 3 in float16 (``fake_servers``: an empty ``content``
with ``finish_reason`` ``length``, vLLM issue 14817; ``<pad>`` filling the reply, vLLM issue 18733).
In this process: the stand-in with its last decoder layer's output turned to NaN, which is what a
float16 overflow does to Gemma 3 (transformers issue 36822; vLLM PR 17364: "X+residual will be
bigger than max value of float16 … the token_ids of model result will be all zero"): greedy decoding
then picks token 0, ``<pad>``, at every step.
"""

from __future__ import annotations

import json

import pytest
from fake_servers import REPORT, Fake, FakeServer, completion

from cxr_lib.analysis.records import ResultCache
from cxr_lib.analysis.runner import run_prompt_grid, run_reports
from cxr_lib.cli import main
from cxr_lib.errors import EmptyAnswerError
from cxr_lib.models.empty_answers import EMPTY_ANSWER_LIMIT, EmptyAnswerGuard, is_empty_answer
from cxr_lib.models.endpoint import EndpointVLM, open_endpoint
from cxr_lib.models.vlm import Generation, GenerationSettings, load_vlm

CASES = (1, 9, 22, 39, 44, 61)
EMPTY = completion("", "length", completion_tokens=48)  # vLLM issue 14817
PADS = completion("<pad>" * 48, "length", completion_tokens=48)  # vLLM issue 18733


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cxr: error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def cases(data_dir):
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.data.datasets import load_split

    test = load_split("test")
    images = dict(zip(CASES, condition_images(test, CASES, "lanczos", 64, rgb=True)))
    return images, {i: test.label(i) for i in CASES}


def direct(url: str, concurrency: int = 1) -> EndpointVLM:
    """The backend as open_endpoint builds it, without its opening probe (to reach the run's own guard)."""
    return EndpointVLM(base_url=url, model_id="google/medgemma-1.5-4b-it", revision=None, is_stand_in=False,
                       request_name="google/medgemma-1.5-4b-it", concurrency=concurrency, _sleep=lambda s: None)


# --------------------------------------------------------------------------- what counts as empty
@pytest.mark.parametrize("text, thought, empty", [
    ("", "", True), ("   \n", "", True), ("<pad><pad><pad>", "", True), ("<pad> <eos>", "", True),
    ("", "check the bases", False), ("Clear lungs.", "", False), ("<pad>Clear", "", False),
])
def test_what_counts_as_an_empty_answer(text, thought, empty):
    assert is_empty_answer(Generation(text, "max_new_tokens", 8, 300, 0.1, thought=thought,
                                      thought_state="unclosed" if thought else "none")) is empty


def test_the_guard_skips_isolated_empties_and_stops_a_run_of_them():
    blank, fine = Generation("", "eos", 1, 1, 0.0), Generation("Clear.", "eos", 1, 1, 0.0)
    guard = EmptyAnswerGuard("m")
    assert guard.empty(1, blank) and not guard.empty(2, fine)  # one, then a real answer: the count restarts
    for case in range(3, 3 + EMPTY_ANSWER_LIMIT - 1):
        assert guard.empty(case, blank)
    with pytest.raises(EmptyAnswerError, match=rf"{EMPTY_ANSWER_LIMIT + 1} of {EMPTY_ANSWER_LIMIT + 2} time"):
        guard.empty(99, blank)  # three in a row: stop (four empty of five seen)
    isolated = EmptyAnswerGuard("m")
    isolated.empty(1, blank)
    isolated.empty(2, fine)
    with pytest.raises(EmptyAnswerError, match=r"1 of 2 time\(s\) \(cases 1\)"):
        isolated.finish()  # the run is not over quietly: the empty one was not cached, and it says so


# --------------------------------------------------------------------------- through a server
@pytest.mark.parametrize("answer", [EMPTY, PADS], ids=["empty-content", "pad-filled"])
def test_a_float16_server_is_refused_when_opened(answer):
    with FakeServer(Fake(report=lambda body: answer)) as url:
        with pytest.raises(EmptyAnswerError) as info:
            open_endpoint(url)
    message = str(info.value)
    assert "\n" not in message and "float16" in message and "--dtype bfloat16" in message


@pytest.mark.parametrize("answer", [EMPTY, PADS], ids=["empty-content", "pad-filled"])
def test_cli_report_against_a_float16_server_exits_with_one_line_and_caches_nothing(answer, data_dir, tmp_path, capsys):
    with FakeServer(Fake(report=lambda body: answer)) as url:
        code = main(["report", "--index", "22", "--results", str(tmp_path), "--endpoint", url, "--max-new-tokens", "48"])
    assert code == 2
    line = one_error_line(capsys)
    assert "empty or pad-only" in line and "bfloat16" in line
    assert len(ResultCache(tmp_path)) == 0


def test_a_single_report_with_an_empty_answer_is_refused_and_not_cached(data_dir, tmp_path):
    """Past the opening probe (a server that answers the probe, then nothing): the report itself."""
    from cxr_lib.analysis.runner import report_for_case

    def answer(body):
        return completion("Grey square." if body["max_tokens"] <= 8 else "", "length")

    with FakeServer(Fake(report=answer)) as url:
        with pytest.raises(EmptyAnswerError, match="cases 22"):
            report_for_case(None, 22, endpoint=url, settings=GenerationSettings(max_new_tokens=48, batch_size=1),
                            results_dir=tmp_path)
    assert len(ResultCache(tmp_path)) == 0


@pytest.mark.parametrize("answer", [EMPTY, PADS], ids=["empty-content", "pad-filled"])
def test_a_run_stops_after_a_few_empty_answers_and_caches_none(answer, cases, tmp_path):
    images, truths = cases
    fake = Fake(report=lambda body: answer)
    with FakeServer(fake) as url:
        with pytest.raises(EmptyAnswerError) as info:
            run_reports(direct(url), images, truths, condition="lanczos", results_dir=tmp_path, score=False,
                        settings=GenerationSettings(max_new_tokens=48, batch_size=1), progress=False)
    asked = [r for r in fake.requests if r[0] == "POST"]
    assert len(asked) == EMPTY_ANSWER_LIMIT < len(images)  # stopped, not run to the end
    assert "\n" not in str(info.value) and f"{EMPTY_ANSWER_LIMIT} of {EMPTY_ANSWER_LIMIT}" in str(info.value)
    assert len(ResultCache(tmp_path)) == 0


def test_isolated_empty_answers_are_not_cached_and_the_run_says_so(cases, tmp_path):
    images, truths = cases
    served = iter(range(100))

    def answer(body):
        return completion("" if next(served) == 2 else REPORT)

    with FakeServer(Fake(report=answer)) as url:
        with pytest.raises(EmptyAnswerError, match=r"1 of 6 time\(s\) \(cases 22\)"):
            run_reports(direct(url), images, truths, condition="lanczos", results_dir=tmp_path, score=False,
                        settings=GenerationSettings(max_new_tokens=48), progress=False)
        assert len(ResultCache(tmp_path)) == len(images) - 1  # the others are kept; a rerun asks only for case 22
        frame = run_reports(direct(url), images, truths, condition="lanczos", results_dir=tmp_path, score=False,
                            settings=GenerationSettings(max_new_tokens=48), progress=False)
    assert frame["index"].tolist() == list(CASES) and (frame["text"] == REPORT).all()


def test_the_prompt_grid_stops_too(cases, tmp_path):
    images, truths = cases
    with FakeServer(Fake(report=lambda body: EMPTY)) as url:
        with pytest.raises(EmptyAnswerError):
            run_prompt_grid(direct(url, concurrency=2), {22: images[22]}, truths, strategies=["structured", "reference"],
                            languages=["en", "fr"], condition="lanczos", settings=GenerationSettings(max_new_tokens=8),
                            results_dir=tmp_path, progress=False)
    assert len(ResultCache(tmp_path)) == 0


# --------------------------------------------------------------------------- in this process
def _overflow(model) -> None:
    """Make the language model's last layer return NaN, as float16 overflow does (see the module docstring)."""
    import torch

    layer = model.model.language_model.layers[-1]
    layer.register_forward_hook(lambda module, args, output: (torch.full_like(output[0], float("nan")),
                                                              *output[1:]) if isinstance(output, tuple)
                                else torch.full_like(output, float("nan")))


def test_the_in_process_probe_refuses_a_model_that_answers_with_padding(stand_in_dir, monkeypatch):
    from transformers import AutoModelForImageTextToText

    loader = AutoModelForImageTextToText.from_pretrained

    def overflowing(*args, **kwargs):
        model = loader(*args, **kwargs)
        _overflow(model)
        return model

    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", overflowing)
    vlm = load_vlm(stand_in_dir / "medgemma", lazy=True)
    with pytest.raises(EmptyAnswerError) as info:
        vlm.load()
    message = str(info.value)
    assert "\n" not in message and "float16" in message and "4-bit" in message and "probe" in message
    assert not vlm.loaded  # nothing runs on a model that answers with nothing


def test_an_in_process_run_with_padding_answers_stops_and_caches_none(stand_in_dir, cases, tmp_path, monkeypatch):
    images, truths = cases
    vlm = load_vlm(stand_in_dir / "medgemma")  # probed while healthy
    assert vlm.generate([images[1]], ["Describe."], GenerationSettings(max_new_tokens=4))[0].text.strip()  # healthy
    _overflow(vlm.model)
    with pytest.raises(EmptyAnswerError) as info:
        run_reports(vlm, images, truths, condition="lanczos", results_dir=tmp_path, score=False,
                    settings=GenerationSettings(max_new_tokens=8, batch_size=2), progress=False)
    assert "load it in bfloat16 or float32" in str(info.value)
    assert len(ResultCache(tmp_path)) == 0
    generated = vlm.model.generate(**vlm.encode([images[1]], ["Describe."]), max_new_tokens=4, do_sample=False)
    assert generated[0, -4:].tolist() == [vlm.processor.tokenizer.pad_token_id] * 4  # the symptom, reproduced


def test_cli_report_json_never_holds_an_empty_answer(stand_in_dir, data_dir, tmp_path, capsys):
    """The healthy stand-in: its record has text (the guard lets real answers through untouched)."""
    assert main(["report", "--index", "22", "--model", str(stand_in_dir / "medgemma"), "--results", str(tmp_path),
                 "--max-new-tokens", "8", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"].strip() and record["made_with"]["backend"] == "in-process"
