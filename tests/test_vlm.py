"""Loading, batched deterministic generation, stop reasons and answer scoring, on the stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_lib.errors import CxrError, GenerationError, ModelLoadError, ParameterError, PromptError
from cxr_lib.models.vlm import DEFAULT_MODEL, GenerationSettings, load_vlm


@pytest.fixture(scope="module")
def vlm(stand_in_dir):
    return load_vlm(stand_in_dir / "medgemma")


@pytest.fixture(scope="module")
def images(data_dir):
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.upscale import upscale

    test = load_split("test")
    return [upscale(test.image(i), "lanczos", 64, rgb=True) for i in (1, 9, 22, 39)]


PROMPTS = ["Describe this chest X-ray.", "Is there pneumonia?", "Examine the lungs and heart.", "Describe the heart."]


# --------------------------------------------------------------------------- settings
@pytest.mark.parametrize("kwargs", [
    {"max_new_tokens": 0}, {"max_new_tokens": -5}, {"max_new_tokens": 2.5}, {"max_new_tokens": True},
    {"batch_size": 0}, {"temperature": 0}, {"temperature": -1.0}, {"top_p": 0}, {"top_p": 1.5},
    {"do_sample": True, "seed": None}, {"do_sample": "yes"}, {"seed": -1},
    {"min_new_tokens": 20, "max_new_tokens": 10},
])
def test_bad_settings(kwargs):
    with pytest.raises(ParameterError) as info:
        GenerationSettings(**kwargs)
    assert "\n" not in str(info.value)


def test_settings_defaults_and_dict():
    settings = GenerationSettings()
    assert settings.max_new_tokens == 1024 and settings.do_sample is False and settings.seed == 0
    assert GenerationSettings(**settings.as_dict()) == settings
    assert settings.generate_kwargs()["do_sample"] is False
    sampled = GenerationSettings(do_sample=True, temperature=0.2, top_p=0.9, seed=1).generate_kwargs()
    assert sampled["temperature"] == 0.2 and sampled["top_p"] == 0.9


# --------------------------------------------------------------------------- loading
def test_loads_the_stand_in_through_from_pretrained(vlm, stand_in_dir):
    import torch
    from transformers import Gemma3ForConditionalGeneration, Gemma3Processor

    assert isinstance(vlm.model, Gemma3ForConditionalGeneration)
    assert isinstance(vlm.processor, Gemma3Processor)
    assert vlm.is_stand_in and vlm.device == "cpu" and vlm.dtype == torch.float32
    assert vlm.revision.startswith("local-") and vlm.source == str((stand_in_dir / "medgemma").resolve())
    assert vlm.model_id == "medgemma"  # named by its folder name and content digest, never by its path
    assert DEFAULT_MODEL == "google/medgemma-1.5-4b-it"


def test_chat_template_puts_image_before_text(vlm):
    from cxr_lib.models.prompts import build_messages

    text = vlm.processor.apply_chat_template(build_messages("Describe"), add_generation_prompt=True, tokenize=False)
    assert text.index("<start_of_image>") < text.index("Describe")
    assert text.startswith("<bos><start_of_turn>user") and text.endswith("<start_of_turn>model\n")


def test_lazy_loading(stand_in_dir):
    lazy = load_vlm(stand_in_dir / "medgemma", lazy=True)
    assert not lazy.loaded and lazy.revision.startswith("local-") and lazy.is_stand_in
    lazy.model  # first use loads
    assert lazy.loaded and lazy.device == "cpu"


@pytest.mark.parametrize("kwargs, error", [
    ({"dtype": "float16"}, ParameterError),
    ({"dtype": "fp16"}, ParameterError),
    ({"load_in_4bit": True, "device": "cpu"}, ParameterError),
])
def test_refused_precisions(stand_in_dir, kwargs, error):
    with pytest.raises(error) as info:
        load_vlm(stand_in_dir / "medgemma", **kwargs)
    assert "\n" not in str(info.value)


def test_bad_model_names(tmp_path, stand_in_dir, monkeypatch):
    import huggingface_hub.constants

    # offline, as on this machine without a network (online, the hub client retries for ~30 s first)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "file.txt").write_text("x")
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(empty): "no config.json",
        str(tmp_path / "file.txt"): "not a model folder",
        str(stand_in_dir / "swin2sr"): "not an image-text-to-text model",
        "nobody-xyz/not-a-cached-model": "not in the Hugging Face cache",
        "": "empty",
    }
    for name, expected in cases.items():
        with pytest.raises(ModelLoadError) as info:
            load_vlm(name)
        message = str(info.value)
        assert expected in message and "\n" not in message, (name, message)


def test_gated_model_message_and_token_redaction(monkeypatch):
    import httpx
    from huggingface_hub.errors import GatedRepoError

    from cxr_lib.models.vlm import _explain_load_error

    token = "hf_FAKEtoken0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", token)
    response = httpx.Response(403, request=httpx.Request("GET", "https://huggingface.co/x"))
    try:
        try:
            raise GatedRepoError(f"403 Forbidden for token {token}", response=response)
        except GatedRepoError as inner:
            raise OSError("You are trying to access a gated repo.") from inner
    except OSError as exc:
        message = _explain_load_error(DEFAULT_MODEL, exc)
    assert "accept" in message and "huggingface-cli login" in message and "HF_TOKEN" in message
    assert token not in message
    other = _explain_load_error(DEFAULT_MODEL, RuntimeError(f"bad {token}\nmore"))  # any other failure: its first line
    assert other == f"could not load {DEFAULT_MODEL}: bad ***"


# --------------------------------------------------------------------------- generation
def test_greedy_is_deterministic(vlm, images):
    settings = GenerationSettings(max_new_tokens=24, batch_size=2)
    first = vlm.generate(images, PROMPTS, settings)
    second = vlm.generate(images, PROMPTS, settings)
    assert [g.text for g in first] == [g.text for g in second]
    assert all(g.text for g in first)
    assert len({g.text for g in first}) > 1  # different images and prompts give different text


def test_batched_equals_one_at_a_time(vlm, images):
    batched = vlm.generate(images, PROMPTS, GenerationSettings(max_new_tokens=40, batch_size=4))
    single = vlm.generate(images, PROMPTS, GenerationSettings(max_new_tokens=40, batch_size=1))
    assert [(g.text, g.stop_reason, g.new_tokens) for g in batched] == [(g.text, g.stop_reason, g.new_tokens) for g in single]
    # left padding: shorter prompts were padded, yet each row counts only its own tokens
    assert len({g.prompt_tokens for g in batched}) > 1


def test_cut_off_is_detected(vlm, images):
    (gen,) = vlm.generate(images[:1], PROMPTS[:1], GenerationSettings(max_new_tokens=5))
    assert gen.stop_reason == "max_new_tokens" and gen.cut_off and gen.new_tokens == 5
    assert gen.prompt_tokens > 16 and gen.seconds > 0


def test_eos_is_detected(vlm, images, monkeypatch):
    """Make the first new greedy token after the first a stop token (the first, if the model repeats
    one token): generation ends there and says so."""
    import torch

    batch = vlm.encode(images[:1], PROMPTS[:1])
    with torch.no_grad():
        out = vlm.model.generate(**batch, max_new_tokens=12, do_sample=False)
    new = out[0, batch["input_ids"].shape[1]:].tolist()
    k = next((i for i in range(1, len(new)) if new[i] not in new[:i]), 0)
    config = vlm.model.generation_config
    monkeypatch.setattr(config, "eos_token_id", list(config.eos_token_id) + [new[k]])
    (gen,) = vlm.generate(images[:1], PROMPTS[:1], GenerationSettings(max_new_tokens=12))
    assert gen.stop_reason == "eos" and not gen.cut_off and gen.new_tokens == k + 1
    assert gen.text == vlm.processor.tokenizer.decode(new[:k], skip_special_tokens=True).strip()


def test_sampling_is_reproducible_with_a_seed(vlm, images):
    settings = GenerationSettings(max_new_tokens=20, do_sample=True, temperature=1.0, top_p=0.95, seed=7)
    first = vlm.generate(images[:2], PROMPTS[:2], settings)
    second = vlm.generate(images[:2], PROMPTS[:2], settings)
    assert [g.text for g in first] == [g.text for g in second]


def test_stream_yields_growing_text_ending_in_the_report(vlm, images):
    settings = GenerationSettings(max_new_tokens=15)
    pieces = list(vlm.stream(images[0], PROMPTS[0], settings))
    (gen,) = vlm.generate(images[:1], PROMPTS[:1], settings)
    assert len(pieces) > 1 and pieces[-1] == gen.text
    assert all(b.startswith(a.split(" ")[0]) for a, b in zip(pieces, pieces[1:]))


def test_bad_generation_inputs(vlm, images):
    with pytest.raises(PromptError):
        vlm.generate(images[:1], ["  "])
    with pytest.raises(ParameterError):
        vlm.generate(images[:2], PROMPTS[:1])
    with pytest.raises(CxrError, match="expected a 2-D grayscale"):  # cxr_lib.data.images.to_pil's check
        vlm.generate(["not an image"], PROMPTS[:1])
    with pytest.raises(ParameterError):
        vlm.score(images, batch_size=0)


def test_out_of_memory_is_one_line(vlm, images, monkeypatch):
    import torch

    def boom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(vlm.model, "generate", boom)
    with pytest.raises(GenerationError) as info:
        vlm.generate(images[:1], PROMPTS[:1], GenerationSettings(max_new_tokens=4))
    assert "batch" in str(info.value) and "4-bit" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- scoring
def test_scores_are_probabilities(vlm, images):
    scores = vlm.score(images, batch_size=3)
    assert len(scores) == len(images)
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in scores)
    assert len({round(p, 6) for p in scores}) > 1  # the image matters
    one_by_one = [vlm.score([image])[0] for image in images]
    np.testing.assert_allclose(scores, one_by_one, atol=1e-5)


def test_answer_tokens_are_yes_and_no(vlm):
    yes, no = vlm.answer_token_ids()
    tokenizer = vlm.processor.tokenizer
    assert {tokenizer.decode([i]).strip().lower() for i in yes} == {"yes"}
    assert {tokenizer.decode([i]).strip().lower() for i in no} == {"no"}
