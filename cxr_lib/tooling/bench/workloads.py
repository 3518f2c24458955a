"""The workloads of ``cxr bench``, each a function that measures one thing and returns a plain dict."""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from cxr_lib.analysis.runner import run_reports
from cxr_lib.app.serve import LocalServer, cxr_serve_command, transformers_serve_available, transformers_serve_command
from cxr_lib.models import cpu_decode
from cxr_lib.models.endpoint import open_endpoint
from cxr_lib.models.prefix_reuse import generate_with_shared_prefix
from cxr_lib.models.prompts import build_prompt
from cxr_lib.models.stand_ins import build_medgemma_stand_in, stand_in_info
from cxr_lib.models.upscale import SuperResolver
from cxr_lib.models.vlm import VLM, GenerationSettings, load_vlm
from cxr_lib.tooling.bench.configs import ENDPOINT_CONCURRENCY, PROJECTED_REPORT_TOKENS, BenchConfig
from cxr_lib.tooling.bench.kernels import decode_per_token, quantize_int8, weight_bytes_per_token, with_bound
from cxr_lib.tooling.bench.measure import release_memory, timed
from cxr_lib.tooling.bench.model import bench_image, eight_prompts, fixed_length


def bench_prompts(vlm: VLM, cfg: BenchConfig, device: str) -> dict[str, Any]:
    """Eight prompts on one image: the reference loop against prefix reuse, outputs compared."""
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
        (gen,), seconds = timed(lambda: vlm.generate([image], [prompt], settings), device)
        reference.append(gen)
        per_prompt.append(seconds)
    engine, engine_seconds = timed(
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


def bench_batching(vlm: VLM, cfg: BenchConfig, device: str) -> dict[str, Any]:
    """``cfg.batch_images`` images with one prompt: batch of one against one batch."""
    images = [bench_image(seed=i) for i in range(cfg.batch_images)]
    prompts = [build_prompt("structured", "en")] * len(images)
    one, t_one = timed(lambda: vlm.generate(images, prompts, fixed_length(cfg, 1)), device)
    many, t_many = timed(lambda: vlm.generate(images, prompts, fixed_length(cfg, len(images))), device)
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


def bench_scoring(vlm: VLM, cfg: BenchConfig, device: str, prompts_result: dict | None,
                  decode_result: dict | None) -> dict[str, Any]:
    """Answer scoring (one forward pass) against generating a report, per image.

    The generation side is the reference loop's measured first prompt (``new_tokens`` tokens); the
    cost of a full-length report is projected from the prefill it implies plus the per-token decode
    time measured in this run (labelled as a projection).
    """
    image = bench_image()
    if device.startswith("cuda"):
        vlm.score([image])  # the GPU's first call pays for kernel set-up; nothing to warm on the CPU
    scores, seconds = timed(lambda: vlm.score([image]), device)
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


def bench_decode_float_only(vlm: VLM, cfg: BenchConfig, device: str, bandwidth: dict[str, Any]) -> dict[str, Any]:
    """The unquantised half of the decode workload (run before scoring, which needs the float model)."""
    model = vlm.model
    weights = weight_bytes_per_token(model)
    if device.startswith("cuda"):
        return {"bfloat16": with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth),
                "baseline": "bfloat16"}
    # Side by side: PyTorch's own float32 linear (MKL), then the engine's OpenBLAS route (cxr_lib.models.cpu_decode).
    cpu_decode.uninstall(model)
    plain = with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth)
    routed_layers = cpu_decode.install(model)
    routed = with_bound(decode_per_token(model, device, cfg.decode_steps), weights, bandwidth)
    routed.update(routed_layers=routed_layers,
                  speedup_vs_pytorch=round(plain["seconds_per_token"] / routed["seconds_per_token"], 3),
                  greedy_tokens_agree_with_pytorch=routed["tokens"] == plain["tokens"])
    return {"float32": routed, "float32_pytorch": plain, "baseline": "float32",
            "engine_note": "float32 is the engine's decode (one-row linears through OpenBLAS, cxr_lib.models.cpu_decode); "
                           "float32_pytorch is PyTorch's own linear (MKL), measured in the same run"}


def bench_decode_int8(vlm: VLM, cfg: BenchConfig, device: str, bandwidth: dict[str, Any],
                      base: dict[str, Any]) -> dict[str, Any]:
    """The int8 half of the decode workload: quantise in place, measure, compare with ``base``."""
    out = dict(base)
    out.pop("wall_seconds", None)
    if device.startswith("cuda"):
        out["int8"] = {"skipped": "int8 dynamic quantisation is a CPU technique (fbgemm); on CUDA use bfloat16 or 4-bit"}
        return out
    model = vlm.model
    cpu_decode.uninstall(model)  # int8 linears are fbgemm's, at PyTorch's usual thread count
    # Decoding text needs no vision tower: drop it first, so the float model and its int8 copy fit in RAM.
    model.model.vision_tower = None
    release_memory()
    out["vision_tower_dropped_before_int8"] = True
    seconds = quantize_int8(model)
    int8 = with_bound(decode_per_token(model, device, cfg.decode_steps), weight_bytes_per_token(model), bandwidth)
    int8["quantize_seconds"] = round(seconds, 2)
    fp = out[out["baseline"]]
    int8["greedy_tokens_agree_with_float32"] = int8["tokens"] == fp["tokens"]
    out["int8"] = int8
    out["speedup"] = round(fp["seconds_per_token"] / int8["seconds_per_token"], 3)
    out["quality_note"] = ("int8 quality cannot be judged here: the weights are random. Only MedGemma's real weights "
                           "can show whether int8 changes the reports.")
    return out


def bench_swin2sr(cfg: BenchConfig, device: str) -> dict[str, Any]:
    """Swin2SR at the real configuration with random weights: images per second, batch 1 and batched."""
    import torch
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    torch.manual_seed(0)
    network = Swin2SRForImageSuperResolution(Swin2SRConfig(**cfg.swin2sr)).to(device).eval()
    processor = Swin2SRImageProcessor(do_rescale=True, rescale_factor=1 / 255, do_pad=True, size_divisor=8)
    resolver = SuperResolver(network, processor, "swin2SR-classical-sr-x4-64-architecture-random-weights", None, device, True)
    images = [bench_image(seed=i) for i in range(cfg.swin2sr_images)]
    resolver.super_resolve(images[:1], batch_size=1)  # warm-up
    outs, t_one = timed(lambda: resolver.super_resolve(images, batch_size=1), device)
    _, t_batch = timed(lambda: resolver.super_resolve(images, batch_size=cfg.swin2sr_batch), device)
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
    model = build_medgemma_stand_in(workdir / "cache_stand_in", tokenizer="word-level")
    images = {i: bench_image(seed=100 + i) for i in range(cfg.cache_cases)}
    truths = {i: i % 2 for i in images}
    results = workdir / "cache_results"
    settings = GenerationSettings(max_new_tokens=32, batch_size=4)

    def run() -> Any:
        vlm = load_vlm(model, device="cpu", lazy=True)
        return run_reports(vlm, images, truths, condition="lanczos", strategy="structured", language="en",
                           settings=settings, results_dir=results, score=True, progress=False)

    cold, t_cold = timed(run, "cpu")
    warm, t_warm = timed(run, "cpu")
    same = cold.equals(warm) if hasattr(cold, "equals") else cold == warm
    return {
        "what": "cxr_lib.analysis.runner.run_reports on the stand-in (the offline demo's report step), not the whole demo",
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
    from PIL import Image

    model = build_medgemma_stand_in(workdir / "endpoint_stand_in")
    n = cfg.endpoint_images
    images = [Image.fromarray(bench_image(seed=200 + i)).convert("RGB").resize((224, 224), Image.LANCZOS)
              for i in range(n)]
    prompt = build_prompt("structured", "en")
    settings = GenerationSettings(max_new_tokens=cfg.endpoint_new_tokens, batch_size=4)
    server_device = "cuda" if device.startswith("cuda") else "cpu"

    def timed_reports(vlm: Any, batch_size: int) -> tuple[list[Any], float]:
        vlm.generate(images[:1], [prompt], dataclasses.replace(settings, batch_size=1))  # warm
        started = time.perf_counter()
        out = vlm.generate(images, [prompt] * n, dataclasses.replace(settings, batch_size=batch_size))
        return out, time.perf_counter() - started

    def rate(seconds: float, generations: list[Any]) -> dict[str, Any]:
        return {"seconds": round(seconds, 3), "images_per_min": round(n / seconds * 60, 1),
                "new_tokens": int(sum(g.new_tokens for g in generations))}

    local = load_vlm(model, device=device)
    reference, t_one = timed_reports(local, 1)
    batched, t_four = timed_reports(local, 4)
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
                    generations, seconds = timed_reports(vlm, 1)
                finally:
                    vlm.close()
                runs[str(concurrency)] = {**rate(seconds, generations),
                                          "identical_reports": sum(g.text == t for g, t in zip(generations, texts))}
        result[name] = runs
    return result
