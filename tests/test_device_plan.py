"""Precision, quantisation and batch from the GPU, the memory they take, and scoring's last-position logits.

No GPU runs here: the device is mocked (``torch.cuda``'s capability and memory, as torch reports them
on a Colab T4: sm75, 14.75 GiB) and the memory model is checked against MedGemma's real parameter
count (``cxr bench`` builds the real architecture: 4 300 079 472 parameters,
``cxr_lib/artifacts/bench/bench_cuda.json``).
"""

from __future__ import annotations

import json

import pytest

from cxr_lib.data.artifacts import committed
from cxr_lib.models import device_plan
from cxr_lib.models.device_plan import CARDS, GIB, Gpu, ModelShape, choose, estimate_memory
from cxr_lib.tooling.bench.configs import FULL

MEDGEMMA = ModelShape.from_config({"text_config": FULL.text, "vision_config": FULL.vision, "mm_tokens_per_image": 256})
#: What torch reports for a Colab T4 (``torch.cuda.get_device_properties(0)``).
T4 = Gpu("Tesla T4", (7, 5), 15_835_398_144)
FULL_PROFILE_BATCH = 8


def test_the_shape_counts_medgemma_exactly():
    bench = json.loads(committed("bench/bench_cuda.json").read_text())["workloads"]["build"]
    assert MEDGEMMA.parameters()["total"] == bench["parameters"]
    assert MEDGEMMA.patches == 4096 and MEDGEMMA.full_layers == 5  # 64×64 patches; a global layer in six


def test_a_t4_gets_4bit_weights_with_float32_compute_that_fit_in_15_gb():
    config = choose(T4, MEDGEMMA, can_4bit=True, max_new_tokens=1024)
    assert (config.dtype, config.load_in_4bit, config.attention) == ("float32", True, "sdpa")
    batch = config.batch_for(FULL_PROFILE_BATCH)
    peak = config.peak(batch)
    assert batch == FULL_PROFILE_BATCH and peak <= config.budget < 15e9  # the full profile's batch of 8, computed
    # the parts: 4-bit linear layers and float32 embeddings, under 5 GB; each image's cache and activations
    assert 4.0e9 < config.memory.weights < 5.0e9 and config.memory.per_image < 0.6e9
    line = config.line(batch)
    assert "Tesla T4 (sm75)" in line and "4-bit NF4 weights with float32 compute" in line
    assert f"batch {batch}: estimated peak {peak / GIB:.1f} GiB of {config.budget / GIB:.1f} GiB" in line


def test_a_t4_without_bitsandbytes_gets_a_batch_that_fits_in_emulated_bfloat16():
    config = choose(T4, MEDGEMMA, can_4bit=False)
    assert (config.dtype, config.load_in_4bit) == ("bfloat16", False)
    # the math attention kernel holds each image's 16 × 4096² scores and their softmax: 1 GiB in bfloat16
    math_only = estimate_memory(MEDGEMMA, "bfloat16", False, 1, math_attention=True).per_image
    fused = estimate_memory(MEDGEMMA, "bfloat16", False, 1).per_image
    assert math_only - fused == 2 * 16 * 4096 * 4096 * 2
    assert 1 <= config.max_batch < FULL_PROFILE_BATCH  # the full profile's 8 would not fit: lowered
    assert config.peak(config.max_batch) <= config.budget < config.peak(config.max_batch + 1)
    assert "emulated bfloat16" in config.line()


def test_newer_cards_get_bfloat16_and_explicit_choices_are_kept():
    for name in ("L4", "A100", "H100"):
        config = choose(CARDS[name].gpu(), MEDGEMMA, can_4bit=True)
        assert (config.dtype, config.load_in_4bit) == ("bfloat16", False)
        assert config.batch_for(FULL_PROFILE_BATCH) == FULL_PROFILE_BATCH
    kept = choose(T4, MEDGEMMA, dtype="bfloat16", can_4bit=True)
    assert (kept.dtype, kept.load_in_4bit) == ("bfloat16", False) and "kept as asked" in kept.reason
    asked = choose(CARDS["L4"].gpu(), MEDGEMMA, load_in_4bit=True)
    assert (asked.dtype, asked.load_in_4bit) == ("bfloat16", True)


def test_nothing_fits_is_said():
    tiny = Gpu("Tiny", (8, 0), 6 * GIB)
    config = choose(tiny, MEDGEMMA, dtype="bfloat16")
    assert config.max_batch == 0 and "not even one image fits" in config.line()


# --------------------------------------------------------------------------- the VLM on a mocked T4
@pytest.fixture()
def mocked_t4(monkeypatch):
    import torch

    class Properties:
        name, total_memory = T4.name, T4.memory_bytes

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: T4.capability)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: Properties())
    monkeypatch.setattr(device_plan, "four_bit_available", lambda: True)


def test_the_vlm_on_a_mocked_t4_plans_4bit_and_says_so_before_loading(stand_in_dir, mocked_t4, tmp_path):
    from cxr_lib.models.vlm import load_vlm

    folder = tmp_path / "medgemma-shaped"  # the stand-in's files with MedGemma's real configuration
    folder.mkdir()
    config = json.loads((stand_in_dir / "medgemma" / "config.json").read_text())
    config["text_config"].update({k: v for k, v in FULL.text.items() if k != "rope_parameters"})
    config["vision_config"].update(FULL.vision)
    (folder / "config.json").write_text(json.dumps(config))
    vlm = load_vlm(folder, lazy=True)
    made = vlm.made_with()  # what records are keyed by: settled without loading the weights
    assert not vlm.loaded
    assert made == {"backend": "in-process", "server": "", "dtype": "float32", "quantization": "bitsandbytes-nf4",
                    "attention": "sdpa", "device_kind": "cuda Tesla T4 (sm75)"}
    assert vlm.load_in_4bit and vlm.batch_for(FULL_PROFILE_BATCH) == FULL_PROFILE_BATCH
    assert "Tesla T4 (sm75): no native bfloat16" in vlm.configuration and "4-bit NF4" in vlm.configuration


def test_the_runner_runs_the_batch_the_gpu_fits_and_records_it(stand_in_dir, data_dir, tmp_path, monkeypatch):
    """A GPU that fits two images per batch: a run asked for eight runs two at a time, and says so."""
    from cxr_lib.analysis.conditions import condition_images
    from cxr_lib.analysis.runner import run_reports
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.vlm import GenerationSettings, load_vlm

    vlm = load_vlm(stand_in_dir / "medgemma")
    monkeypatch.setattr(vlm, "batch_for", lambda requested: min(requested, 2))
    sizes = []
    original = vlm.generate
    monkeypatch.setattr(vlm, "generate", lambda images, prompts, settings: sizes.append(len(images))
                        or original(images, prompts, settings))
    test = load_split("test")
    cases = (1, 9, 22, 39, 44)
    images = dict(zip(cases, condition_images(test, cases, "lanczos", 64, rgb=True)))
    frame = run_reports(vlm, images, {i: test.label(i) for i in cases}, condition="lanczos", results_dir=tmp_path,
                        settings=GenerationSettings(max_new_tokens=4, batch_size=8), score=False, progress=False)
    assert sizes == [2, 2, 1]
    assert {s["batch_size"] for s in frame["settings"]} == {2}


# --------------------------------------------------------------------------- scoring keeps the last position only
def test_scoring_asks_the_model_for_the_last_positions_logits_only(stand_in_dir, data_dir):
    import torch

    from cxr_lib.models.vlm import load_vlm

    vlm = load_vlm(stand_in_dir / "medgemma")
    calls = []
    forward = vlm.model.forward

    def spy(*args, **kwargs):
        output = forward(*args, **kwargs)
        calls.append((kwargs.get("logits_to_keep"), tuple(output.logits.shape), kwargs["input_ids"].shape[1]))
        return output

    vlm.model.forward = spy
    try:
        images = [torch.zeros(64, 64, 3, dtype=torch.uint8).numpy() + 40 * k for k in range(3)]
        scores = vlm.score_answers(images, batch_size=3)
    finally:
        del vlm.model.forward
    (keep, shape, length), = calls
    assert keep == 1 and shape[:2] == (3, 1) and length > 256  # one position of a prompt of hundreds
    # the same probabilities as from the whole sequence's logits
    batch = vlm.encode(images, [__import__("cxr_lib.models.prompts", fromlist=["x"]).SCORE_QUESTION] * 3)
    with torch.inference_mode():
        full = vlm.model(**batch).logits
    yes, no = vlm.answer_token_ids()
    last = full[:, -1, :].float()
    pair = torch.stack([torch.logsumexp(last[:, no], -1), torch.logsumexp(last[:, yes], -1)], -1)
    expected = torch.softmax(pair, -1)[:, 1].tolist()
    assert full.shape[1] == length and [s.p_pneumonia for s in scores] == pytest.approx(expected, abs=1e-5)
