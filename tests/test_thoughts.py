"""MedGemma 1.5's thoughts: split on token ids, never read as the report, kept in the record, shown
apart in the app, and counted in answer scoring — on both stand-in tokenizers."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_lib.models.thoughts import THOUGHT_ONLY_RULE, split_ids, split_text

DRAFT = "thought\nThe lungs look hazy. Draft: Final answer: PNEUMONIA"
ANSWER = "Final answer: NORMAL"


# --------------------------------------------------------------------------- the split itself
@pytest.mark.parametrize("ids, answer, thoughts, state", [
    ([5, 6, 7], [5, 6, 7], [], "none"),
    ([94, 5, 6, 95, 7, 8], [7, 8], [[5, 6]], "closed"),
    ([94, 5, 6], [], [[5, 6]], "unclosed"),
    ([5, 6, 95, 7], [7], [[5, 6]], "closed"),  # a closing marker alone: the thought began with the turn
    ([7, 94, 5, 95, 8, 94, 6], [7, 8], [[5], [6]], "unclosed"),
    ([94, 95], [], [[]], "closed"),
])
def test_split_ids(ids, answer, thoughts, state):
    assert split_ids(ids, 94, 95) == (answer, thoughts, state)
    assert split_ids(ids, None, None) == (ids, [], "none")  # a vocabulary without markers has no thoughts


def test_split_text():
    closed = split_text(f"<unused94>{DRAFT}<unused95>{ANSWER}")
    assert (closed.answer, closed.state, closed.thought_only) == (ANSWER, "closed", False)
    assert closed.thought == "The lungs look hazy. Draft: Final answer: PNEUMONIA"  # the "thought" label dropped
    unclosed = split_text(f"<unused94>{DRAFT}")
    assert (unclosed.answer, unclosed.state, unclosed.thought_only) == ("", "unclosed", True)
    assert split_text("No thought here.").state == "none"


# --------------------------------------------------------------------------- the reader
@pytest.mark.parametrize("text", [
    f"<unused94>{DRAFT}",  # unclosed: cut off inside the thought
    f"<unused94>{DRAFT}<unused95>",  # closed, no answer after it
    f"<unused94>{DRAFT}<unused95>  \n",
])
def test_reader_never_reads_a_thought_as_the_answer(text):
    from cxr_lib.analysis.labels import read_report

    assert read_report(DRAFT).label == "pneumonia"  # the draft alone would be read as pneumonia
    reading = read_report(text)
    assert (reading.label, reading.rule, reading.evidence) == ("uncertain", THOUGHT_ONLY_RULE, "")
    assert read_report("", thought_only=True).rule == THOUGHT_ONLY_RULE


def test_reader_reads_the_answer_after_a_thought():
    from cxr_lib.analysis.labels import RULES, read_report

    assert read_report(f"<unused94>{DRAFT}<unused95>{ANSWER}").label == "normal"
    assert THOUGHT_ONLY_RULE in RULES


# --------------------------------------------------------------------------- through the model's decode path
@pytest.fixture(scope="module", params=["gemma3", "word-level"])
def vlm(request):
    from cxr_lib.models.vlm import load_vlm

    folder = request.getfixturevalue("gemma3_stand_in" if request.param == "gemma3" else "word_level_stand_in")
    return load_vlm(folder)


def marker_and_text_ids(vlm):
    from cxr_lib.models.thoughts import marker_ids

    tokenizer = vlm.processor.tokenizer
    start, end = marker_ids(tokenizer)
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    return start, end, encode


def test_marker_ids(vlm):
    start, end, _ = marker_and_text_ids(vlm)
    assert start is not None and end is not None and start != end
    if vlm.processor.tokenizer.vocab_size > 100_000:  # Gemma 3's real vocabulary
        assert (start, end) == (100, 101)


@pytest.mark.parametrize("layout", ["unclosed", "closed-empty", "closed-answer"])
def test_decode_path_splits_on_ids(vlm, layout):
    from cxr_lib.models.vlm import finish_generation

    start, end, encode = marker_and_text_ids(vlm)
    thought = encode(" pneumonia pneumonia Final answer : PNEUMONIA")
    answer = encode(" Final answer : NORMAL")
    eos = vlm.eos_token_ids()
    end_of_turn = vlm.processor.tokenizer.convert_tokens_to_ids("<end_of_turn>")
    ids = {"unclosed": [start, *thought],
           "closed-empty": [start, *thought, end, end_of_turn],
           "closed-answer": [start, *thought, end, *answer, end_of_turn]}[layout]
    generation = finish_generation(vlm.processor.tokenizer, ids, eos, prompt_tokens=10, seconds=0.1)
    assert "PNEUMONIA" in generation.thought and "PNEUMONIA" not in generation.text
    assert "<unused9" not in generation.text + generation.thought
    if layout == "unclosed":
        assert generation.thought_state == "unclosed" and generation.stop_reason == "max_new_tokens"
        assert generation.thought_only and generation.text == ""
    elif layout == "closed-empty":
        assert generation.thought_state == "closed" and generation.stop_reason == "eos" and generation.thought_only
    else:
        assert generation.thought_state == "closed" and not generation.thought_only
        assert "NORMAL" in generation.text


def scripted_generate(vlm, monkeypatch, script):
    """Make ``vlm.model.generate`` emit ``script`` (token ids), streamed one by one as the real one does."""
    import torch

    def generate(input_ids=None, streamer=None, **kwargs):
        rows = torch.cat([input_ids, torch.tensor([script] * input_ids.shape[0])], dim=1)
        if streamer is not None:
            streamer.put(input_ids.cpu())
            for token in script:
                streamer.put(torch.tensor([token]))
            streamer.end()
        return rows

    monkeypatch.setattr(vlm.model, "generate", generate)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)


def test_generate_and_stream_keep_the_thought_apart(vlm, monkeypatch, image):
    from cxr_lib.models.vlm import GenerationSettings

    start, end, encode = marker_and_text_ids(vlm)
    script = [start, *encode(" pneumonia Final answer : PNEUMONIA"), end, *encode(" Final answer : NORMAL")]
    scripted_generate(vlm, monkeypatch, script)
    settings = GenerationSettings(max_new_tokens=len(script))
    (generation,) = vlm.generate([image], ["Describe"], settings)
    updates = list(vlm.stream_updates(image, "Describe", settings))
    final = updates[-1].generation
    same = ("text", "thought", "thought_state", "stop_reason", "new_tokens", "prompt_tokens")
    assert [getattr(final, name) for name in same] == [getattr(generation, name) for name in same]
    assert all("PNEUMONIA" not in u.answer for u in updates)  # the report box never shows the thought
    assert any("PNEUMONIA" in u.thought and not u.answer for u in updates)  # it streams into the thought
    assert "NORMAL" in updates[-1].answer and updates[-1].thought_state == "closed"
    assert list(vlm.stream(image, "Describe", settings))[-1] == generation.text


def test_record_of_a_thought_only_report(vlm, monkeypatch, image, tmp_path):
    from cxr_lib.analysis.records import ResultCache, records_frame
    from cxr_lib.analysis.runner import run_reports
    from cxr_lib.models.vlm import GenerationSettings

    start, _, encode = marker_and_text_ids(vlm)
    script = [start, *encode(" pneumonia Final answer : PNEUMONIA")]
    scripted_generate(vlm, monkeypatch, script)
    settings = GenerationSettings(max_new_tokens=len(script), batch_size=1)
    frame = run_reports(vlm, {7: image}, {7: 0}, condition="lanczos", settings=settings, results_dir=tmp_path,
                        score=True, progress=False)
    row = frame.iloc[0]
    assert (row["label"], row["rule"], row["text"]) == ("uncertain", THOUGHT_ONLY_RULE, "")
    assert row["thought_only"] and row["thought_state"] == "unclosed" and row["cut_off"]
    assert "PNEUMONIA" in row["thought"] and 0.0 <= row["p_thought"] <= 1.0
    (record,) = ResultCache(tmp_path).records()  # the cached record keeps the thought
    assert record.thought_only and "PNEUMONIA" in record.thought
    assert records_frame([record]).iloc[0]["rule"] == THOUGHT_ONLY_RULE


def test_app_streams_only_the_answer(vlm, monkeypatch, data_dir, tmp_path):
    from cxr_lib.app.ui import create_context, run_generation

    start, _, encode = marker_and_text_ids(vlm)
    script = [start, *encode(" pneumonia Final answer : PNEUMONIA")]
    scripted_generate(vlm, monkeypatch, script)
    ctx = create_context(vlm.model_id, vlm=vlm, results_dir=tmp_path)
    steps = list(run_generation(ctx, "test image", 22, None, "lanczos", "Describe this chest X-ray.", "en",
                                "greedy", 0.2, 0.9, 0, max(8, len(script)), False))
    assert all(step["text"] == "" for step in steps)  # nothing reaches the report box
    assert "PNEUMONIA" in steps[-1]["thought"]
    record = steps[-1]["record"]
    assert record["text"] == "" and record["thought_state"] == "unclosed" and "PNEUMONIA" in record["thought"]
    assert record["label"] == "uncertain" and record["rule"] == THOUGHT_ONLY_RULE


# --------------------------------------------------------------------------- scoring
def test_scoring_reports_the_thought_and_conditions_on_answering(vlm, monkeypatch, image):
    import torch

    start, _, _ = marker_and_text_ids(vlm)
    (plain,) = vlm.score_answers([image])
    assert plain.p_thought is not None and 0.0 <= plain.p_thought < 0.5
    forward = vlm.model.forward

    def thinking(*args, **kwargs):  # the model now almost surely starts a thought
        out = forward(*args, **kwargs)
        out.logits[..., start] += 30.0
        return out

    monkeypatch.setattr(vlm.model, "forward", thinking)
    with torch.inference_mode():
        (thinking_score,) = vlm.score_answers([image])
    assert thinking_score.p_thought > 0.99
    # P(pneumonia) is the yes/no ratio given a direct answer: the thought's mass does not move it
    assert thinking_score.p_pneumonia == pytest.approx(plain.p_pneumonia, abs=1e-5)
    assert vlm.score([image])[0] == pytest.approx(thinking_score.p_pneumonia, abs=1e-6)


def test_records_of_the_old_layout_are_not_reused(tmp_path, monkeypatch):
    """Records before the thought fields have another cache key and an older schema: never read back."""
    import json

    from cxr_lib.analysis import records

    fields = dict(index=1, condition="lanczos", model_id="m", revision="r", prompt_strategy="structured",
                  language="en", prompt="p", settings={"max_new_tokens": 8}, image_sha256="0" * 64,
                  made_with={"backend": "in-process", "dtype": "float32"})
    key = records.record_key(**fields)
    with monkeypatch.context() as patch:
        patch.setattr(records, "SCHEMA_VERSION", 1)
        assert records.record_key(**fields) != key  # the schema is part of the key
    record = records.Record(truth=0, stand_in=True, text="Final answer: NORMAL", label="normal", evidence="", rule="",
                            **fields)
    cache = records.ResultCache(tmp_path)
    path = cache.put(record)
    entry = json.loads(path.read_text())
    entry["schema"] = 1  # a file written by the old layout under this key
    path.write_text(json.dumps(entry))
    assert cache.get(key) is None
