"""``cxr bench``: where the pipeline's time goes, measured side by side in one run.

The workloads run MedGemma's *real* architecture (Gemma 3 4B: SigLIP at 896×896, 256 image
tokens, 34 decoder layers; :func:`medgemma_config`) built from its configuration with random
weights, so nothing is downloaded. Random weights would make the number of generated tokens
arbitrary, so every generation is fixed in length (``min_new_tokens == max_new_tokens``): the
work is the real model's, the text is meaningless.

Workloads (each a function returning a plain dict; :func:`run_bench` runs them and writes JSON):

- ``prompts``: eight prompts (four strategies × two languages) on one image — the reference loop
  (batch of one, a processor call per prompt, every prompt from scratch) against the engine
  (:mod:`cxr_lib.prefix_reuse`: one processor call, the image encoded once, its KV prefix reused and
  the eight prompts' own tokens decoded together), with the outputs compared;
- ``batching``: several images, one prompt, batch 1 against batched (GPU runs and ``--quick``);
- ``scoring``: answer scoring (one forward pass) against generating a report, per image;
- ``bandwidth`` and ``decode``: memory bandwidth measured in the run, decode time per token in
  float32 and with int8 dynamic quantisation of the language model's linear layers (CPU), each
  beside its bound (weight bytes read per token / measured read bandwidth);
- ``swin2sr``: Swin2SR at the real ``caidas/swin2SR-classical-sr-x4-64`` configuration (random
  weights), images per second at batch 1 and batched;
- ``cache``: the result cache — a cold run of the report runner on the stand-in against a warm rerun;
- ``endpoint``: reports per minute through an OpenAI-compatible server (``cxr serve`` and
  ``transformers serve``, started here) at 1, 4 and 16 concurrent requests, against the in-process
  path on the same images, with the reports compared (the stand-in: the serving path's own cost).

``--quick`` scales every model down (a few seconds each) so CI can check that the benchmark runs and
what its JSON looks like; its figures are flagged ``quick`` and are never results.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from cxr_lib.errors import ParameterError

SCHEMA_VERSION = 1
WORKLOADS = ("bandwidth", "build", "prompts", "batching", "scoring", "decode", "swin2sr", "cache", "endpoint")
#: Concurrent requests the endpoint workload measures.
ENDPOINT_CONCURRENCY = (1, 4, 16)
#: The two languages of the eight-prompt workload (with the four strategies).
PROMPT_LANGUAGES = ("en", "fr")
#: Report lengths the scoring comparison projects to (the reference analysis used 150 new tokens).
PROJECTED_REPORT_TOKENS = (150, 300)


# --------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run (``FULL`` is MedGemma's real architecture, ``QUICK`` a toy)."""

    name: str
    text: dict[str, Any]  # Gemma3TextConfig keyword arguments
    vision: dict[str, Any]  # SiglipVisionConfig keyword arguments
    mm_tokens_per_image: int
    new_tokens: int  # fixed length of every generation (min = max)
    decode_steps: int  # timed single-token decode steps
    batch_images: int  # images in the batching workload
    swin2sr: dict[str, Any]  # Swin2SRConfig keyword arguments
    swin2sr_images: int  # images per Swin2SR measurement
    swin2sr_batch: int
    bandwidth_mib: int  # buffer for the bandwidth: far above the last-level cache (server CPUs have up to a few hundred MiB of L3)
    cache_cases: int  # cases in the result-cache workload
    quick: bool = False
    endpoint_images: int = 32  # images in the endpoint workload
    endpoint_new_tokens: int = 48  # report budget there (the offline profile's)

    @property
    def image_size(self) -> int:
        return int(self.vision["image_size"])


def _layer_types(n_layers: int, pattern: int = 6) -> list[str]:
    """Gemma 3's layout: five sliding-window layers, then one global, repeated."""
    return ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(n_layers)]


#: MedGemma 1.5 4B-IT = Gemma 3 4B (google/gemma-3-4b-it config.json; transformers' Gemma3TextConfig defaults).
MEDGEMMA_TEXT = dict(
    vocab_size=262208, hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
    num_attention_heads=8, num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256,
    hidden_activation="gelu_pytorch_tanh", max_position_embeddings=131072, rms_norm_eps=1e-6,
    sliding_window=1024, layer_types=_layer_types(34),
    rope_parameters={
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
    },
)
MEDGEMMA_VISION = dict(
    hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
    image_size=896, patch_size=14, vision_use_head=False, layer_norm_eps=1e-6,
)
#: caidas/swin2SR-classical-sr-x4-64.
SWIN2SR_X4_64 = dict(
    image_size=64, patch_size=1, num_channels=3, embed_dim=180, depths=[6] * 6, num_heads=[6] * 6,
    window_size=8, mlp_ratio=2.0, upscale=4, upsampler="pixelshuffle", img_range=1.0, resi_connection="1conv",
)

FULL = BenchConfig(
    name="full", text=MEDGEMMA_TEXT, vision=MEDGEMMA_VISION, mm_tokens_per_image=256, new_tokens=8,
    decode_steps=8, batch_images=4, swin2sr=SWIN2SR_X4_64, swin2sr_images=16, swin2sr_batch=8,
    bandwidth_mib=4096, cache_cases=8,
)
#: On a GPU the buffer must dwarf its caches (50-60 MB of L2).
GPU_BANDWIDTH_MIB = 4096
QUICK = BenchConfig(
    name="quick",
    text=dict(
        vocab_size=32768, hidden_size=256, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=2, head_dim=64, query_pre_attn_scalar=64, sliding_window=1024,
        layer_types=_layer_types(6), max_position_embeddings=4096,
    ),
    vision=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
                image_size=112, patch_size=14, vision_use_head=False),
    mm_tokens_per_image=16, new_tokens=4, decode_steps=4, batch_images=2,
    swin2sr=dict(SWIN2SR_X4_64, embed_dim=24, depths=[1, 1], num_heads=[2, 2]),
    swin2sr_images=4, swin2sr_batch=4, bandwidth_mib=64, cache_cases=2, quick=True, endpoint_images=8,
    endpoint_new_tokens=8,
)


def config_for(quick: bool) -> BenchConfig:
    return QUICK if quick else FULL


# --------------------------------------------------------------------------- environment and timing
def environment(device: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch
    import transformers

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()),
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _timed(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    _sync(device)
    start = time.perf_counter()
    value = fn()
    _sync(device)
    return value, time.perf_counter() - start


# --------------------------------------------------------------------------- building the models
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


def build_bench_vlm(cfg: BenchConfig, device: str, workdir: Path) -> tuple[Any, dict[str, Any]]:
    """A :class:`cxr_lib.vlm.VLM` holding MedGemma's architecture (random weights) at ``cfg``'s sizes.

    The tokenizer and chat template are the word-level stand-in's (Gemma's special tokens at small ids,
    so a vocabulary of any size holds them; the benchmark's numbers were measured with it); the image processor
    is set to ``cfg``'s image size and the processor to its number of image tokens. Weights are drawn
    once from N(0, 0.02) (skipping transformers' slower default initialisation); float32 on the CPU,
    bfloat16 on CUDA; on the CPU with the OpenBLAS decode route installed, as :func:`cxr_lib.vlm.load_vlm` does.
    """
    import torch
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers < 5
        from transformers.modeling_utils import no_init_weights

    from cxr_lib.stand_ins import build_medgemma_stand_in
    from cxr_lib.vlm import VLM

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
        from transformers import GenerationConfig

        tok = processor.tokenizer
        model.generation_config = GenerationConfig(
            bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
            eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")], do_sample=False,
        )
        return model

    model, seconds = _timed(build, device)
    if not device.startswith("cuda"):
        from cxr_lib import cpu_decode

        cpu_decode.install(model)  # as load_vlm does on the CPU: the engine's decode route
    vlm = VLM(model_id=f"medgemma-architecture-random-weights[{cfg.name}]", revision=None, is_stand_in=True,
              device=device, dtype=dtype, _model=model, _processor=processor)
    n_params = sum(p.numel() for p in model.parameters())
    info = {
        "seconds": round(seconds, 2),
        "parameters": n_params,
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


def bench_image(size: int = 28, seed: int = 0) -> Any:
    """A fixed random 28×28 grayscale ``uint8`` image (content does not change the work)."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def eight_prompts() -> list[tuple[str, str, str]]:
    """(strategy, language, prompt) for every strategy × :data:`PROMPT_LANGUAGES`."""
    from cxr_lib.prompts import STRATEGIES, build_prompt

    return [(s, lang, build_prompt(s, lang)) for s in STRATEGIES for lang in PROMPT_LANGUAGES]


def fixed_length(cfg: BenchConfig, batch_size: int = 1) -> Any:
    from cxr_lib.vlm import GenerationSettings

    return GenerationSettings(max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens, batch_size=batch_size)


# --------------------------------------------------------------------------- workloads
def bench_prompts(vlm: Any, cfg: BenchConfig, device: str) -> dict[str, Any]:
    """Eight prompts on one image: the reference loop against prefix reuse, outputs compared."""
    from cxr_lib.prefix_reuse import generate_with_shared_prefix

    image = bench_image()
    items = eight_prompts()
    prompts = [p for _, _, p in items]
    settings = fixed_length(cfg)
    if device.startswith("cuda"):
        # A GPU's first calls pay for kernel selection and allocator growth: warm both paths, untimed.
        vlm.generate([image], [prompts[0]], settings)
        generate_with_shared_prefix(vlm, image, prompts, settings, batch_size=len(prompts))
    reference, per_prompt = [], []
    for prompt in prompts:
        (gen,), seconds = _timed(lambda: vlm.generate([image], [prompt], settings), device)
        reference.append(gen)
        per_prompt.append(seconds)
    engine, engine_seconds = _timed(
        lambda: generate_with_shared_prefix(vlm, image, prompts, settings, batch_size=len(prompts)), device)
    identical = [a.text == b.text and a.new_tokens == b.new_tokens for a, b in zip(reference, engine.generations)]
    ref_total = sum(per_prompt)
    return {
        "prompts": [{"strategy": s, "language": lang, "prompt_tokens": g.prompt_tokens,
                     "reference_seconds": round(t, 3), "engine_prompt_seconds": round(e, 3),
                     "identical": same}
                    for (s, lang, _), g, t, e, same in zip(items, reference, per_prompt, engine.prompt_seconds, identical)],
        "new_tokens_per_prompt": cfg.new_tokens,
        "reference_seconds": round(ref_total, 3),
        "reference_median_prompt_seconds": round(statistics.median(per_prompt), 3),
        "warmed_up": device.startswith("cuda"),
        "engine_seconds": round(engine_seconds, 3),
        "engine_prefix_seconds": round(engine.prefix_seconds, 3),
        "engine_batch_size": len(prompts),
        "prefix_tokens": engine.prefix_tokens,
        "speedup": round(ref_total / engine_seconds, 3),
        "identical_outputs": all(identical),
        "identical_count": sum(identical),
        "reused": engine.reused,
        "reference_texts_sample": [g.text for g in reference[:2]],
    }


def bench_batching(vlm: Any, cfg: BenchConfig, device: str) -> dict[str, Any]:
    """``cfg.batch_images`` images with one prompt: batch of one against one batch."""
    from cxr_lib.prompts import build_prompt

    images = [bench_image(seed=i) for i in range(cfg.batch_images)]
    prompts = [build_prompt("structured", "en")] * len(images)
    one, t_one = _timed(lambda: vlm.generate(images, prompts, fixed_length(cfg, 1)), device)
    many, t_many = _timed(lambda: vlm.generate(images, prompts, fixed_length(cfg, len(images))), device)
    return {
        "images": len(images),
        "new_tokens": cfg.new_tokens,
        "batch_1_seconds": round(t_one, 3),
        "batched_seconds": round(t_many, 3),
        "batch_size": len(images),
        "batch_1_images_per_s": round(len(images) / t_one, 4),
        "batched_images_per_s": round(len(images) / t_many, 4),
        "speedup": round(t_one / t_many, 3),
        "identical_outputs": [a.text for a in one] == [b.text for b in many],
    }


def bench_scoring(vlm: Any, cfg: BenchConfig, device: str, prompts_result: dict | None,
                  decode_result: dict | None) -> dict[str, Any]:
    """Answer scoring (one forward pass) against generating a report, per image.

    The generation side is the reference loop's measured first prompt (``new_tokens`` tokens); the
    cost of a full-length report is projected from the prefill it implies plus the per-token decode
    time measured in this run (labelled as a projection).
    """
    image = bench_image()
    if device.startswith("cuda"):
        vlm.score([image])  # the GPU's first call pays for kernel set-up; nothing to warm on the CPU
    scores, seconds = _timed(lambda: vlm.score([image]), device)
    out: dict[str, Any] = {"score_seconds_per_image": round(seconds, 3), "score": round(float(scores[0]), 4)}
    if prompts_result:
        # The median prompt of the reference loop (its first call can carry one-off start-up costs).
        gen_seconds = prompts_result.get("reference_median_prompt_seconds") or prompts_result["prompts"][0]["reference_seconds"]
        out["generate_seconds_per_image"] = gen_seconds
        out["generate_new_tokens"] = cfg.new_tokens
        out["speedup_vs_generate_measured"] = round(gen_seconds / seconds, 3)
        per_token = (decode_result or {}).get("float32", {}).get("seconds_per_token")
        if per_token:
            prefill = max(gen_seconds - (cfg.new_tokens - 1) * per_token, 0.0)
            out["projected_prefill_seconds"] = round(prefill, 3)
            for tokens in PROJECTED_REPORT_TOKENS:
                report = prefill + (tokens - 1) * per_token
                out[f"projected_report_{tokens}_tokens_seconds"] = round(report, 2)
                out[f"speedup_vs_report_{tokens}_tokens_projected"] = round(report / seconds, 2)
    return out


def memory_bandwidth(device: str, mib: int, repeats: int = 5) -> dict[str, Any]:
    """Read bandwidth and copy bandwidth (read + write) over a buffer far above the caches, best of ``repeats``.

    The read figure is the fastest of the read kernels tried: PyTorch's ``sum`` and, on the CPU,
    OpenBLAS's matrix–vector product over the same buffer (the kernel the engine's decode uses;
    see :mod:`cxr_lib.cpu_decode`). A bound from a slower kernel would be one the decode could beat.
    """
    import torch

    n = mib * 2**20 // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    kernels: dict[str, Callable[[], Any]] = {"torch_sum": lambda: src.sum()}
    if not device.startswith("cuda"):
        matrix = src.numpy().reshape(-1, 4096)
        vector = src.numpy()[:4096].copy()
        kernels["openblas_gemv"] = lambda: matrix @ vector
    read: dict[str, list[float]] = {name: [] for name in kernels}
    copy = []
    for _ in range(repeats):
        for name, kernel in kernels.items():
            _, t = _timed(kernel, device)
            read[name].append(src.numel() * 4 / t)
        _, t = _timed(lambda: dst.copy_(src), device)
        copy.append(2 * src.numel() * 4 / t)
    del src, dst, kernels
    by_kernel = {name: round(max(values) / 1e9, 2) for name, values in read.items()}
    return {"buffer_mib": mib, "read_gb_per_s": max(by_kernel.values()), "read_gb_per_s_by_kernel": by_kernel,
            "copy_gb_per_s": round(max(copy) / 1e9, 2), "threads": torch.get_num_threads()}


def weight_bytes_per_token(model: Any) -> int:
    """Bytes of weights one decode step reads: every language-model weight except the embedding
    table (one row is read), plus the output head (the tied embedding, read in full)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    lm = model.model.language_model
    skip = {id(p) for p in lm.embed_tokens.parameters()}
    total = 0
    for module in list(lm.modules()) + [model.lm_head]:
        if isinstance(module, DynamicLinear):  # int8 weight + float bias
            weight, bias = module.weight(), module.bias()
            total += weight.numel() * weight.element_size() + (bias.numel() * bias.element_size() if bias is not None else 0)
            continue
        for param in module.parameters(recurse=False):
            if id(param) in skip and module is not model.lm_head:
                continue
            total += param.numel() * param.element_size()
    return total


def _kv_bytes(cache: Any) -> int:
    total = 0
    for layer in getattr(cache, "layers", []):
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if tensor is not None and hasattr(tensor, "numel"):
                total += tensor.numel() * tensor.element_size()
    return total


def decode_per_token(model: Any, device: str, steps: int, prompt_tokens: int = 32) -> dict[str, Any]:
    """Seconds per greedy decode step at batch 1 (a short text prompt, KV cache in use); median of ``steps``."""
    import torch

    torch.manual_seed(0)
    vocab = model.config.text_config.vocab_size
    ids = torch.randint(10, min(vocab, 200), (1, prompt_tokens), device=device)
    times = []
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        token = out.logits[:, -1:].argmax(-1)
        tokens = []
        for _ in range(steps):
            out, t = _timed(lambda: model(input_ids=token, past_key_values=cache, use_cache=True), device)
            cache = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
            tokens.append(int(token))
            times.append(t)
    return {"seconds_per_token": round(statistics.median(times), 4), "steps": steps,
            "all_steps": [round(t, 4) for t in times], "kv_bytes": _kv_bytes(cache), "tokens": tokens}


def _with_bound(decode: dict[str, Any], weight_bytes: int, bandwidth: dict[str, Any]) -> dict[str, Any]:
    read = bandwidth["read_gb_per_s"] * 1e9
    bytes_per_token = weight_bytes + decode.get("kv_bytes", 0)
    bound = bytes_per_token / read
    decode.update(weight_bytes=weight_bytes, bytes_per_token=bytes_per_token, bound_seconds=round(bound, 4),
                  fraction_of_bound=round(bound / decode["seconds_per_token"], 3),
                  times_bound=round(decode["seconds_per_token"] / bound, 3))
    return decode


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), so peaks do not stack."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def quantize_int8(model: Any) -> float:
    """Int8 dynamic quantisation of the language model's and output head's ``nn.Linear`` layers, in place."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    start = time.perf_counter()
    lm = model.model.language_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for layer in lm.layers:  # one layer at a time, so the float copies are freed as it goes
            quantize_dynamic(layer, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
            release_memory()
        quantize_dynamic(lm, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        holder = torch.nn.Sequential(model.lm_head)
        quantize_dynamic(holder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        model.lm_head = holder[0]
    return time.perf_counter() - start


def bench_swin2sr(cfg: BenchConfig, device: str) -> dict[str, Any]:
    """Swin2SR at the real configuration with random weights: images per second, batch 1 and batched."""
    import torch
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    from cxr_lib.upscale import SuperResolver

    torch.manual_seed(0)
    network = Swin2SRForImageSuperResolution(Swin2SRConfig(**cfg.swin2sr)).to(device).eval()
    processor = Swin2SRImageProcessor(do_rescale=True, rescale_factor=1 / 255, do_pad=True, size_divisor=8)
    resolver = SuperResolver(network, processor, "swin2SR-classical-sr-x4-64-architecture-random-weights", None, device, True)
    images = [bench_image(seed=i) for i in range(cfg.swin2sr_images)]
    resolver.super_resolve(images[:1], batch_size=1)  # warm-up
    outs, t_one = _timed(lambda: resolver.super_resolve(images, batch_size=1), device)
    _, t_batch = _timed(lambda: resolver.super_resolve(images, batch_size=cfg.swin2sr_batch), device)
    return {
        "parameters": sum(p.numel() for p in network.parameters()),
        "images": len(images), "input": "28x28 (padded to 32)", "output_shape": list(outs[0].shape),
        "batch_1_images_per_s": round(len(images) / t_one, 3),
        "batch_size": cfg.swin2sr_batch,
        "batched_images_per_s": round(len(images) / t_batch, 3),
        "speedup": round(t_one / t_batch, 3),
    }


def bench_cache(cfg: BenchConfig, workdir: Path) -> dict[str, Any]:
    """The result cache: the report runner on the stand-in, cold (empty results folder) then warm.

    Each run loads the stand-in lazily, as a notebook does, so a warm run answered from the cache
    never loads the weights.
    """
    from cxr_lib.stand_ins import build_medgemma_stand_in
    from cxr_lib.vlm import GenerationSettings, load_vlm

    try:
        from cxr_lib.runner import run_reports
    except ImportError as exc:
        return {"skipped": f"cxr_lib.runner is not available ({exc})"}
    model = build_medgemma_stand_in(workdir / "cache_stand_in", tokenizer="word-level")
    images = {i: bench_image(seed=100 + i) for i in range(cfg.cache_cases)}
    truths = {i: i % 2 for i in images}
    results = workdir / "cache_results"
    settings = GenerationSettings(max_new_tokens=32, batch_size=4)

    def run() -> Any:
        vlm = load_vlm(model, device="cpu", lazy=True)
        return run_reports(vlm, images, truths, condition="lanczos", strategy="structured", language="en",
                           settings=settings, results_dir=results, score=True, progress=False)

    cold, t_cold = _timed(run, "cpu")
    warm, t_warm = _timed(run, "cpu")
    same = cold.equals(warm) if hasattr(cold, "equals") else cold == warm
    return {
        "what": "cxr_lib.runner.run_reports on the stand-in (the offline demo's report step), not the whole demo",
        "cases": len(images), "cold_seconds": round(t_cold, 3), "warm_seconds": round(t_warm, 3),
        "speedup": round(t_cold / t_warm, 1), "identical_results": bool(same),
    }


def bench_endpoint(cfg: BenchConfig, device: str, workdir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Reports per minute through an OpenAI-compatible server against the in-process path, same images.

    The MedGemma stand-in (Gemma 3's tokenizer when it is at hand, 256 image tokens, tiny weights)
    writes a ``structured`` report of up to ``cfg.endpoint_new_tokens`` tokens for each of
    ``cfg.endpoint_images`` images: in this process at batch 1 and 4, then through ``cxr serve``
    (which batches requests that arrive together) and ``transformers serve`` (one request at a time),
    each started here on 127.0.0.1 and stopped after, at :data:`ENDPOINT_CONCURRENCY` requests in
    flight. Greedy reports are compared with the in-process batch-1 ones. Client and server share
    this machine's cores: the figures are the serving path's overhead and what concurrency buys
    here, not MedGemma's speed on a GPU server.
    """
    import dataclasses

    from PIL import Image

    from cxr_lib.endpoint import open_endpoint
    from cxr_lib.prompts import build_prompt
    from cxr_lib.serve import LocalServer, cxr_serve_command, transformers_serve_available, transformers_serve_command
    from cxr_lib.stand_ins import build_medgemma_stand_in, stand_in_info
    from cxr_lib.vlm import GenerationSettings, load_vlm

    model = build_medgemma_stand_in(workdir / "endpoint_stand_in")
    n = cfg.endpoint_images
    images = [Image.fromarray(bench_image(seed=200 + i)).convert("RGB").resize((224, 224), Image.LANCZOS)
              for i in range(n)]
    prompt = build_prompt("structured", "en")
    settings = GenerationSettings(max_new_tokens=cfg.endpoint_new_tokens, batch_size=4)
    server_device = "cuda" if device.startswith("cuda") else "cpu"

    def timed(vlm: Any, batch_size: int) -> tuple[list[Any], float]:
        vlm.generate(images[:1], [prompt], dataclasses.replace(settings, batch_size=1))  # warm
        started = time.perf_counter()
        out = vlm.generate(images, [prompt] * n, dataclasses.replace(settings, batch_size=batch_size))
        return out, time.perf_counter() - started

    def rate(seconds: float, generations: list[Any]) -> dict[str, Any]:
        return {"seconds": round(seconds, 3), "images_per_min": round(n / seconds * 60, 1),
                "new_tokens": int(sum(g.new_tokens for g in generations))}

    local = load_vlm(model, device=device)
    reference, t_one = timed(local, 1)
    batched, t_four = timed(local, 4)
    texts = [g.text for g in reference]
    result: dict[str, Any] = {
        "model": f"the MedGemma stand-in ({stand_in_info(model).get('tokenizer')} tokenizer), random weights",
        "images": n, "max_new_tokens": settings.max_new_tokens, "prompt": "structured/en",
        "in_process": {"batch_1": rate(t_one, reference),
                       "batch_4": {**rate(t_four, batched), "identical_reports": sum(g.text == t for g, t in zip(batched, texts))}},
    }
    del local
    servers = {
        "cxr_serve": lambda port: cxr_serve_command(model, port, "--device", server_device, "--max-batch",
                                                    str(max(ENDPOINT_CONCURRENCY))),
        "transformers_serve": lambda port: transformers_serve_command(model, port, server_device),
    }
    for name, command in servers.items():
        if name == "transformers_serve" and transformers_serve_available() is not None:
            result[name] = {"skipped": transformers_serve_available()}
            continue
        log(f"bench: endpoint through {name} …")
        runs: dict[str, Any] = {}
        with LocalServer.start(command, workdir / f"{name}.log") as server:
            for concurrency in ENDPOINT_CONCURRENCY:
                vlm = open_endpoint(server.url, str(model), concurrency=concurrency, check=concurrency == 1)
                try:
                    generations, seconds = timed(vlm, 1)
                finally:
                    vlm.close()
                runs[str(concurrency)] = {**rate(seconds, generations),
                                          "identical_reports": sum(g.text == t for g, t in zip(generations, texts))}
        result[name] = runs
    return result


# --------------------------------------------------------------------------- the run
def check_thresholds(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The performance targets, each with the measured value and pass/fail (full runs)."""
    w = results.get("workloads", {})
    checks = []

    def add(claim: str, threshold: str, measured: Any, ok: bool | None) -> None:
        checks.append({"claim": claim, "threshold": threshold, "measured": measured, "pass": ok})

    p = w.get("prompts", {})
    if "speedup" in p:
        add("8 prompts on one image, prefix reuse vs reference loop", ">= 3x and identical greedy outputs",
            {"speedup": p["speedup"], "identical": p["identical_outputs"]}, p["speedup"] >= 3 and p["identical_outputs"])
    d = w.get("decode", {})
    if "speedup" in d:
        add("int8 vs float32 decode per token", ">= 1.8x", d["speedup"], d["speedup"] >= 1.8)
    base = d.get(d.get("baseline", ""), {})
    if "times_bound" in base:
        add(f"{d['baseline']} decode vs bandwidth bound, batch 1", "within 2x", base["times_bound"], base["times_bound"] <= 2)
    q = d.get("int8", {})
    if "times_bound" in q:
        add("int8 decode vs its bandwidth bound, batch 1 (int8 quality unchecked)", "within 2x (int8)",
            q["times_bound"], q["times_bound"] <= 2)
    c = w.get("cache", {})
    if "speedup" in c:
        add("warm rerun vs cold run (result cache)", ">= 20x", c["speedup"], c["speedup"] >= 20)
    return checks


def run_bench(
    out: str | os.PathLike,
    *,
    quick: bool = False,
    device: str = "cpu",
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the workloads (all, or ``only``) and write the JSON to ``out`` after each one."""
    import torch

    from cxr_lib.storage import atomic_write_json, ensure_writable_dir

    selected = list(only or WORKLOADS)
    unknown = [w for w in selected if w not in WORKLOADS]
    if unknown:
        raise ParameterError(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} asked for but no CUDA GPU is available: use --device cpu")
    out = Path(out)
    ensure_writable_dir(out.parent)
    cfg = config_for(quick)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "note": ("QUICK (scaled-down models): checks that the benchmark runs; never quote these figures"
                 if quick else "MedGemma's real architecture with random weights: speed only, outputs meaningless"),
        "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(device),
        "config": asdict(cfg),
        "workloads": {},
    }
    if only and out.is_file():
        # Rerunning some workloads: keep the others from the earlier run of the same mode and device.
        earlier = json.loads(out.read_text())
        if earlier.get("quick") == quick and earlier.get("environment", {}).get("device") == device:
            results["workloads"] = earlier.get("workloads", {})
            results["earlier_run"] = {k: earlier.get(k) for k in ("started_utc", "finished_utc", "environment")}
            results["rerun_workloads"] = selected

    def save() -> None:
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        results["targets"] = [] if quick else check_thresholds(results)
        atomic_write_json(out, results)

    def step(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        log(f"bench: {name} …")
        value, seconds = _timed(fn, device)
        release_memory()
        value["wall_seconds"] = round(seconds, 2)
        results["workloads"][name] = value
        save()
        log(f"bench: {name} done in {seconds:.1f} s")
        return value

    with tempfile.TemporaryDirectory(prefix="cxr-bench-") as tmp:
        workdir = Path(tmp)
        if "bandwidth" in selected or "decode" in selected:
            bandwidth = step("bandwidth", lambda: memory_bandwidth(device, GPU_BANDWIDTH_MIB if device.startswith("cuda") and not quick else cfg.bandwidth_mib))
        needs_model = {"build", "prompts", "batching", "scoring", "decode"} & set(selected)
        if needs_model:
            holder: dict[str, Any] = {}

            def build() -> dict[str, Any]:
                holder["vlm"], info = build_bench_vlm(cfg, device, workdir)
                return info

            step("build", build)
            vlm = holder.pop("vlm")
            if "prompts" in selected:
                step("prompts", lambda: bench_prompts(vlm, cfg, device))
            if "batching" in selected:
                if device.startswith("cuda") or quick:
                    step("batching", lambda: bench_batching(vlm, cfg, device))
                else:
                    results["workloads"]["batching"] = {
                        "skipped": "on a 2-core CPU the image prefill is compute-bound and linear in the batch: "
                                   "batching buys ≈1.5× at best; measured on GPU runs"}
            decode: dict[str, Any] = {}
            if "decode" in selected:
                decode = step("decode", lambda: bench_decode_float_only(vlm, cfg, device, bandwidth))
            if "scoring" in selected:
                step("scoring", lambda: bench_scoring(vlm, cfg, device, results["workloads"].get("prompts"), decode))
            if "decode" in selected:
                step("decode", lambda: bench_decode_int8(vlm, cfg, device, bandwidth, decode))
            del vlm, holder
            release_memory()
            if "decode" in selected:
                # Bandwidth again with the model gone, and the bound from the faster of the two readings:
                # a reading slowed by other jobs would make the bound look easier to reach than it is.
                again = memory_bandwidth(device, GPU_BANDWIDTH_MIB if device.startswith("cuda") and not quick
                                         else cfg.bandwidth_mib)
                best = max(bandwidth, again, key=lambda b: b["read_gb_per_s"])
                results["workloads"]["bandwidth"]["end_of_run"] = again
                results["workloads"]["bandwidth"]["bound_uses_gb_per_s"] = best["read_gb_per_s"]
                d = results["workloads"]["decode"]
                for name in (d.get("baseline"), "float32_pytorch", "int8"):
                    if name and "weight_bytes" in d.get(name, {}):
                        _with_bound(d[name], d[name]["weight_bytes"], best)
                save()
        if "swin2sr" in selected:
            step("swin2sr", lambda: bench_swin2sr(cfg, device))
        if "cache" in selected:
            step("cache", lambda: bench_cache(cfg, workdir))
        if "endpoint" in selected:
            step("endpoint", lambda: bench_endpoint(cfg, device, workdir, log))
    results["finished_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    results["environment"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    save()
    return results


def bench_decode_float_only(vlm: Any, cfg: BenchConfig, device: str, bandwidth: dict[str, Any]) -> dict[str, Any]:
    """The unquantised half of the decode workload (run before scoring, which needs the float model)."""
    from cxr_lib import cpu_decode

    model = vlm.model
    weights = weight_bytes_per_token(model)
    if device.startswith("cuda"):
        return {"bfloat16": _with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth),
                "baseline": "bfloat16"}
    # Side by side: PyTorch's own float32 linear (MKL), then the engine's OpenBLAS route (cxr_lib.cpu_decode).
    cpu_decode.uninstall(model)
    plain = _with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth)
    routed_layers = cpu_decode.install(model)
    routed = _with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth)
    routed.update(routed_layers=routed_layers,
                  speedup_vs_pytorch=round(plain["seconds_per_token"] / routed["seconds_per_token"], 3),
                  greedy_tokens_agree_with_pytorch=routed["tokens"] == plain["tokens"])
    return {"float32": routed, "float32_pytorch": plain, "baseline": "float32",
            "engine_note": "float32 is the engine's decode (one-row linears through OpenBLAS, cxr_lib.cpu_decode); "
                           "float32_pytorch is PyTorch's own linear (MKL), measured in the same run"}


def bench_decode_int8(vlm: Any, cfg: BenchConfig, device: str, bandwidth: dict[str, Any],
                      base: dict[str, Any]) -> dict[str, Any]:
    """The int8 half of the decode workload: quantise in place, measure, compare with ``base``."""
    out = dict(base)
    out.pop("wall_seconds", None)
    if device.startswith("cuda"):
        out["int8"] = {"skipped": "int8 dynamic quantisation is a CPU technique (fbgemm); on CUDA use bfloat16 or 4-bit"}
        return out
    from cxr_lib import cpu_decode

    model = vlm.model
    cpu_decode.uninstall(model)  # int8 linears are fbgemm's, at PyTorch's usual thread count
    # Decoding text needs no vision tower: drop it first, so the float model and its int8 copy fit in RAM.
    model.model.vision_tower = None
    release_memory()
    out["vision_tower_dropped_before_int8"] = True
    seconds = quantize_int8(model)
    int8 = _with_bound(decode_per_token(model, device, cfg.decode_steps), weight_bytes_per_token(model), bandwidth)
    int8["quantize_seconds"] = round(seconds, 2)
    fp = out[out["baseline"]]
    int8["greedy_tokens_agree_with_float32"] = int8["tokens"] == fp["tokens"]
    out["int8"] = int8
    out["speedup"] = round(fp["seconds_per_token"] / int8["seconds_per_token"], 3)
    out["quality_note"] = ("int8 quality cannot be judged here: the weights are random. Only MedGemma's real weights "
                           "can show whether int8 changes the reports.")
    return out


def summary_lines(results: dict[str, Any]) -> list[str]:
    """A short human-readable summary of a results dict (what ``cxr bench`` prints)."""
    w = results.get("workloads", {})
    env = results.get("environment", {})
    lines = [f"{'QUICK — not results. ' if results.get('quick') else ''}device {env.get('device')} "
             f"({env.get('gpu') or env.get('cpu')}, {env.get('threads')} threads), torch {env.get('torch')}"]
    if "bandwidth" in w:
        lines.append(f"memory: read {w['bandwidth']['read_gb_per_s']} GB/s, copy {w['bandwidth']['copy_gb_per_s']} GB/s")
    if "build" in w:
        lines.append(f"model: {w['build']['parameters'] / 1e9:.2f} B parameters, built in {w['build']['seconds']} s")
    if "prompts" in w:
        p = w["prompts"]
        lines.append(f"8 prompts/1 image: reference {p['reference_seconds']} s, prefix reuse {p['engine_seconds']} s "
                     f"→ {p['speedup']}×, identical outputs: {p['identical_outputs']}")
    if "batching" in w:
        b = w["batching"]
        lines.append(f"batching: {b.get('skipped') or str(b.get('speedup')) + '×'}")
    if "scoring" in w:
        s = w["scoring"]
        lines.append(f"scoring: {s['score_seconds_per_image']} s/image vs generating {s.get('generate_seconds_per_image')} s "
                     f"({s.get('generate_new_tokens')} tokens)")
    if "decode" in w:
        d = w["decode"]
        base = d.get(d.get("baseline", ""), {})
        if base:
            lines.append(f"decode {d['baseline']}: {base['seconds_per_token']} s/token, bound {base['bound_seconds']} s "
                         f"({base['times_bound']}× the bound)")
        plain = d.get("float32_pytorch", {})
        if plain:
            lines.append(f"decode float32, PyTorch's own linear: {plain['seconds_per_token']} s/token "
                         f"({plain['times_bound']}× the bound); OpenBLAS route {base.get('speedup_vs_pytorch')}× faster")
        if "seconds_per_token" in d.get("int8", {}):
            lines.append(f"decode int8: {d['int8']['seconds_per_token']} s/token → {d['speedup']}× faster; "
                         f"bound {d['int8']['bound_seconds']} s")
    if "swin2sr" in w:
        s = w["swin2sr"]
        lines.append(f"swin2sr: {s['batch_1_images_per_s']} images/s at batch 1, {s['batched_images_per_s']} at batch {s['batch_size']}")
    if "cache" in w:
        c = w["cache"]
        if "skipped" in c:
            lines.append(f"cache: {c['skipped']}")
        else:
            lines.append(f"cache: cold {c['cold_seconds']} s, warm {c['warm_seconds']} s → {c['speedup']}×")
    if "endpoint" in w:
        e = w["endpoint"]
        parts = [f"in-process {e['in_process']['batch_1']['images_per_min']}/{e['in_process']['batch_4']['images_per_min']} "
                 "images/min (batch 1/4)"]
        for name in ("cxr_serve", "transformers_serve"):
            runs = e.get(name, {})
            if "skipped" in runs:
                parts.append(f"{name}: {runs['skipped']}")
            elif runs:
                parts.append(f"{name} " + "/".join(str(runs[str(c)]["images_per_min"]) for c in ENDPOINT_CONCURRENCY)
                             + f" at {'/'.join(map(str, ENDPOINT_CONCURRENCY))} concurrent")
        lines.append("endpoint: " + "; ".join(parts))
    checks = results.get("targets")
    if checks is None:
        checks = [] if results.get("quick") else check_thresholds(results)
    for check in checks:
        lines.append(f"[{'PASS' if check['pass'] else 'FAIL'}] {check['claim']}: {check['measured']} (need {check['threshold']})")
    lines.append(f"total {results.get('total_seconds')} s")
    return lines


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (the book's Performance page pastes it)."""
    w = results.get("workloads", {})
    rows: list[tuple[str, str, str, str]] = []
    p = w.get("prompts")
    if p and "speedup" in p:
        rows.append(("8 prompts on one image (4 strategies × 2 languages), "
                     f"{p['new_tokens_per_prompt']} new tokens each",
                     f"reference loop {p['reference_seconds']:.0f} s",
                     f"prefix reuse {p['engine_seconds']:.0f} s (prefix of {p['prefix_tokens']} tokens once: "
                     f"{p['engine_prefix_seconds']:.0f} s)",
                     f"**{p['speedup']:.2f}×**; identical outputs {p['identical_count']}/{len(p['prompts'])}"))
    b = w.get("batching")
    if b and "speedup" in b:
        rows.append((f"{b['images']} images, one prompt", f"batch 1: {b['batch_1_images_per_s']:.3g} images/s",
                     f"batch {b['batch_size']}: {b['batched_images_per_s']:.3g} images/s", f"{b['speedup']:.2f}×"))
    s = w.get("scoring")
    if s:
        gen = s.get("generate_seconds_per_image")
        proj = s.get("projected_report_150_tokens_seconds")
        rows.append(("answer scoring vs a report, per image",
                     f"report: {gen:.1f} s ({s.get('generate_new_tokens')} tokens)" + (f"; ≈{proj:.0f} s at 150 tokens (projected)" if proj else ""),
                     f"scoring: {s['score_seconds_per_image']:.1f} s",
                     f"{s.get('speedup_vs_generate_measured', float('nan')):.2f}×" + (f" (≈{s['speedup_vs_report_150_tokens_projected']:.1f}× vs 150 tokens)" if proj else "")))
    d = w.get("decode", {})
    base_name = d.get("baseline")
    base = d.get(base_name or "", {})
    if base:
        rows.append((f"decode per token, {base_name}, batch 1",
                     f"{base['seconds_per_token']:.3f} s",
                     f"bound {base['bound_seconds']:.3f} s ({base['bytes_per_token'] / 1e9:.1f} GB at {_bound_bandwidth(w):g} GB/s)",
                     f"{base['times_bound']:.2f}× the bound"))
    plain = d.get("float32_pytorch", {})
    if plain:
        rows.append(("decode per token, float32 through PyTorch's own linear (MKL), batch 1",
                     f"{plain['seconds_per_token']:.3f} s", f"bound {plain['bound_seconds']:.3f} s",
                     f"{plain['times_bound']:.2f}× the bound; the engine's OpenBLAS route is "
                     f"**{base.get('speedup_vs_pytorch', float('nan')):.2f}×** faster"))
    q = d.get("int8", {})
    if "seconds_per_token" in q:
        rows.append(("decode per token, int8 dynamic (language model + head)",
                     f"{q['seconds_per_token']:.3f} s", f"bound {q['bound_seconds']:.3f} s ({q['bytes_per_token'] / 1e9:.1f} GB)",
                     f"**{d['speedup']:.2f}×** faster than {base_name}; {q['times_bound']:.2f}× its bound"))
    sw = w.get("swin2sr")
    if sw:
        rows.append(("Swin2SR ×4 (real configuration), 28×28 input",
                     f"batch 1: {sw['batch_1_images_per_s']:.2f} images/s",
                     f"batch {sw['batch_size']}: {sw['batched_images_per_s']:.2f} images/s", f"{sw['speedup']:.2f}×"))
    c = w.get("cache")
    if c and "speedup" in c:
        rows.append((f"result cache, {c['cases']} reports (stand-in runner)", f"cold {c['cold_seconds']:.2f} s",
                     f"warm {c['warm_seconds']:.3f} s", f"**{c['speedup']:.0f}×**"))
    e = w.get("endpoint")
    if e and "in_process" in e:
        base = e["in_process"]["batch_1"]["images_per_min"]
        for name in ("cxr_serve", "transformers_serve"):
            runs = e.get(name, {})
            if runs and "skipped" not in runs:
                rows.append((f"{e['images']} stand-in reports ({e['max_new_tokens']} tokens) through {name.replace('_', ' ')}",
                             f"in-process: {base:g} images/min at batch 1, "
                             f"{e['in_process']['batch_4']['images_per_min']:g} at batch 4",
                             ", ".join(f"{c} concurrent: {runs[str(c)]['images_per_min']:g}" for c in ENDPOINT_CONCURRENCY),
                             f"{runs[str(ENDPOINT_CONCURRENCY[-1])]['images_per_min'] / base:.2f}× at "
                             f"{ENDPOINT_CONCURRENCY[-1]}; identical reports "
                             f"{min(runs[str(c)]['identical_reports'] for c in ENDPOINT_CONCURRENCY)}/{e['images']}"))
    lines = ["| workload | baseline | engine / comparison | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def _bound_bandwidth(workloads: dict[str, Any]) -> float:
    """The read bandwidth the decode bounds were computed with (GB/s)."""
    bw = workloads.get("bandwidth", {})
    return float(bw.get("bound_uses_gb_per_s") or bw.get("read_gb_per_s") or float("nan"))
