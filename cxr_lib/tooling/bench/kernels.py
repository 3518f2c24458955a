"""Memory bandwidth, decode time per token beside its bandwidth bound, and int8 quantisation."""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any, Callable

from cxr_lib.tooling.bench.measure import release_memory, timed


def memory_bandwidth(device: str, mib: int, repeats: int = 5) -> dict[str, Any]:
    """Read bandwidth and copy bandwidth (read + write) over a buffer far above the caches, best of ``repeats``.

    The read figure is the fastest of the read kernels tried: PyTorch's ``sum`` and, on the CPU,
    OpenBLAS's matrix–vector product over the same buffer (the kernel the engine's decode uses;
    see :mod:`cxr_lib.models.cpu_decode`). A bound from a slower kernel would be one the decode could beat.
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
            _, t = timed(kernel, device)
            read[name].append(src.numel() * 4 / t)
        _, t = timed(lambda: dst.copy_(src), device)
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
    """Bytes held in a KV cache's keys and values."""
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
            out, t = timed(lambda: model(input_ids=token, past_key_values=cache, use_cache=True), device)
            cache = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
            tokens.append(int(token))
            times.append(t)
    return {"seconds_per_token": round(statistics.median(times), 4), "steps": steps,
            "all_steps": [round(t, 4) for t in times], "kv_bytes": _kv_bytes(cache), "tokens": tokens}


def with_bound(decode: dict[str, Any], weight_bytes: int, bandwidth: dict[str, Any]) -> dict[str, Any]:
    """Add to a :func:`decode_per_token` result its bound (bytes read per token / read bandwidth), in place."""
    read = bandwidth["read_gb_per_s"] * 1e9
    bytes_per_token = weight_bytes + decode.get("kv_bytes", 0)
    bound = bytes_per_token / read
    decode.update(weight_bytes=weight_bytes, bytes_per_token=bytes_per_token, bound_seconds=round(bound, 4),
                  fraction_of_bound=round(bound / decode["seconds_per_token"], 3),
                  times_bound=round(decode["seconds_per_token"] / bound, 3))
    return decode


def quantize_int8(model: Any) -> float:
    """Int8 dynamic quantisation of the language model's and output head's ``nn.Linear`` layers, in place."""
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
