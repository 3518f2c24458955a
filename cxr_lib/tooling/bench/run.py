"""Running the benchmark: the workloads in order, one model build shared, the JSON rewritten after each."""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from cxr_lib.errors import ParameterError
from cxr_lib.storage import atomic_write_json, ensure_writable_dir
from cxr_lib.tooling.bench.configs import BenchConfig, config_for
from cxr_lib.tooling.bench.kernels import memory_bandwidth, with_bound
from cxr_lib.tooling.bench.measure import environment, load_average, release_memory, timed
from cxr_lib.tooling.bench.model import build_bench_vlm
from cxr_lib.tooling.bench.report import check_thresholds
from cxr_lib.tooling.bench.workloads import (
    bench_batching,
    bench_cache,
    bench_decode_float_only,
    bench_decode_int8,
    bench_endpoint,
    bench_prompts,
    bench_scoring,
    bench_swin2sr,
)

SCHEMA_VERSION = 1
WORKLOADS = ("bandwidth", "build", "prompts", "batching", "scoring", "decode", "swin2sr", "cache", "endpoint")


def _now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
        "started_utc": _now_utc(),
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
        value, seconds = timed(fn, device)
        release_memory()
        value["wall_seconds"] = round(seconds, 2)
        results["workloads"][name] = value
        save()
        log(f"bench: {name} done in {seconds:.1f} s")
        return value

    with tempfile.TemporaryDirectory(prefix="cxr-bench-") as tmp:
        workdir = Path(tmp)
        bandwidth: dict[str, Any] = {}
        if "bandwidth" in selected or "decode" in selected:
            bandwidth = step("bandwidth", lambda: memory_bandwidth(device, cfg.bandwidth_mib_on(device)))
        if {"build", "prompts", "batching", "scoring", "decode"} & set(selected):
            _model_workloads(cfg, device, workdir, selected, results, step, bandwidth)
            if "decode" in selected:
                _rebound_decode(results["workloads"], cfg, device, bandwidth)
                save()
        if "swin2sr" in selected:
            step("swin2sr", lambda: bench_swin2sr(cfg, device))
        if "cache" in selected:
            step("cache", lambda: bench_cache(cfg, workdir))
        if "endpoint" in selected:
            step("endpoint", lambda: bench_endpoint(cfg, device, workdir, log))
    results["finished_utc"] = _now_utc()
    results["environment"]["load_average_end"] = load_average()
    save()
    return results


def _model_workloads(cfg: BenchConfig, device: str, workdir: Path, selected: Sequence[str], results: dict[str, Any],
                     step: Callable[[str, Callable[[], dict[str, Any]]], dict[str, Any]],
                     bandwidth: dict[str, Any]) -> None:
    """The workloads that share one build of the model: build, prompts, batching, decode and scoring."""
    holder: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        holder["vlm"], info = build_bench_vlm(cfg, device, workdir)
        return info

    step("build", build)
    vlm = holder.pop("vlm")
    if "prompts" in selected:
        step("prompts", lambda: bench_prompts(vlm, cfg, device))
    if "batching" in selected:
        if device.startswith("cuda") or cfg.quick:
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
    del vlm
    release_memory()


def _rebound_decode(workloads: dict[str, Any], cfg: BenchConfig, device: str, bandwidth: dict[str, Any]) -> None:
    """Bandwidth again with the model gone, and the decode bounds from the faster of the two readings.

    A reading slowed by other jobs would make the bound look easier to reach than it is.
    """
    again = memory_bandwidth(device, cfg.bandwidth_mib_on(device))
    best = max(bandwidth, again, key=lambda b: b["read_gb_per_s"])
    workloads["bandwidth"]["end_of_run"] = again
    workloads["bandwidth"]["bound_uses_gb_per_s"] = best["read_gb_per_s"]
    d = workloads["decode"]
    for name in (d.get("baseline"), "float32_pytorch", "int8"):
        if name and "weight_bytes" in d.get(name, {}):
            with_bound(d[name], d[name]["weight_bytes"], best)
