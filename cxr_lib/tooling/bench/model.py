"""The model the workloads run (MedGemma's architecture, random weights) and the fixed inputs they feed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cxr_lib.models import cpu_decode
from cxr_lib.models.prompts import STRATEGIES, build_prompt
from cxr_lib.models.stand_ins import build_medgemma_stand_in
from cxr_lib.models.vlm import VLM, GenerationSettings
from cxr_lib.tooling.bench.configs import PROMPT_LANGUAGES, BenchConfig
from cxr_lib.tooling.bench.measure import timed


def medgemma_config(cfg: BenchConfig, tokenizer: Any) -> Any:
    """A ``Gemma3Config`` of ``cfg``'s sizes whose special-token ids match ``tokenizer``."""
    from transformers import Gemma3Config, Gemma3TextConfig, SiglipVisionConfig

    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("pad", tokenizer.pad_token), ("eos", tokenizer.eos_token), ("bos", tokenizer.bos_token),
        ("boi", tokenizer.boi_token), ("eoi", tokenizer.eoi_token), ("image", tokenizer.image_token))}
    text = Gemma3TextConfig(**cfg.text, pad_token_id=ids["pad"], eos_token_id=ids["eos"], bos_token_id=ids["bos"])
    vision = SiglipVisionConfig(**cfg.vision)
    return Gemma3Config(
        text_config=text, vision_config=vision, mm_tokens_per_image=cfg.mm_tokens_per_image,
        boi_token_index=ids["boi"], eoi_token_index=ids["eoi"], image_token_index=ids["image"],
    )


def build_bench_vlm(cfg: BenchConfig, device: str, workdir: Path) -> tuple[VLM, dict[str, Any]]:
    """A :class:`cxr_lib.models.vlm.VLM` holding MedGemma's architecture (random weights) at ``cfg``'s sizes.

    The tokenizer and chat template are the word-level stand-in's (Gemma's special tokens at small ids,
    so a vocabulary of any size holds them; the benchmark's numbers were measured with it); the image processor
    is set to ``cfg``'s image size and the processor to its number of image tokens. Weights are drawn
    once from N(0, 0.02) (skipping transformers' slower default initialisation); float32 on the CPU,
    bfloat16 on CUDA; on the CPU with the OpenBLAS decode route installed, as :func:`cxr_lib.models.vlm.load_vlm` does.
    """
    import torch
    from transformers import (
        AutoProcessor,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        GenerationConfig,
    )
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers < 5
        from transformers.modeling_utils import no_init_weights

    stand_in = build_medgemma_stand_in(workdir / "stand_in_medgemma", tokenizer="word-level")
    base = AutoProcessor.from_pretrained(stand_in)
    image_processor = Gemma3ImageProcessor(
        size={"height": cfg.image_size, "width": cfg.image_size}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=base.tokenizer,
                                chat_template=base.chat_template, image_seq_length=cfg.mm_tokens_per_image)
    processor.tokenizer.padding_side = "left"
    config = medgemma_config(cfg, processor.tokenizer)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32

    def build() -> Any:
        generator = torch.Generator(device=device).manual_seed(0)
        with no_init_weights(), torch.device(device):
            model = Gemma3ForConditionalGeneration(config)
        model.tie_weights()  # no_init_weights also skips tying: the output head shares the embedding, as in MedGemma
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0.0, 0.02, generator=generator)
        model = model.to(dtype).eval()
        tok = processor.tokenizer
        model.generation_config = GenerationConfig(
            bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
            eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")], do_sample=False,
        )
        return model

    model, seconds = timed(build, device)
    if not device.startswith("cuda"):
        cpu_decode.install(model)  # as load_vlm does on the CPU: the engine's decode route
    vlm = VLM(model_id=f"medgemma-architecture-random-weights[{cfg.name}]", revision=None, is_stand_in=True,
              device=device, dtype=dtype, _model=model, _processor=processor)
    info = {
        "seconds": round(seconds, 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "parameters_language_model": sum(p.numel() for p in model.model.language_model.parameters()),
        "parameters_vision": sum(p.numel() for p in model.model.vision_tower.parameters()),
        "dtype": str(dtype).replace("torch.", ""),
        "image_size": cfg.image_size,
        "image_tokens": cfg.mm_tokens_per_image,
        "layers": cfg.text["num_hidden_layers"],
        "hidden_size": cfg.text["hidden_size"],
        "vocab_size": cfg.text["vocab_size"],
    }
    return vlm, info


def bench_image(size: int = 28, seed: int = 0) -> np.ndarray:
    """A fixed random 28×28 grayscale ``uint8`` image (content does not change the work)."""
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def eight_prompts() -> list[tuple[str, str, str]]:
    """(strategy, language, prompt) for every strategy × :data:`PROMPT_LANGUAGES`."""
    return [(s, lang, build_prompt(s, lang)) for s in STRATEGIES for lang in PROMPT_LANGUAGES]


def fixed_length(cfg: BenchConfig, batch_size: int = 1) -> GenerationSettings:
    """Generation settings of exactly ``cfg.new_tokens`` new tokens (min = max)."""
    return GenerationSettings(max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens, batch_size=batch_size)
