"""Reading a benchmark results dict: the performance targets it is judged against, and the console summary."""

from __future__ import annotations

from typing import Any, Callable

from cxr_lib.tooling.bench.configs import ENDPOINT_CONCURRENCY


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


def _bandwidth_lines(b: dict[str, Any]) -> list[str]:
    return [f"memory: read {b['read_gb_per_s']} GB/s, copy {b['copy_gb_per_s']} GB/s"]


def _build_lines(b: dict[str, Any]) -> list[str]:
    return [f"model: {b['parameters'] / 1e9:.2f} B parameters, built in {b['seconds']} s"]


def _prompts_lines(p: dict[str, Any]) -> list[str]:
    return [f"8 prompts/1 image: reference {p['reference_seconds']} s, prefix reuse {p['engine_seconds']} s "
            f"→ {p['speedup']}×, identical outputs: {p['identical_outputs']}"]


def _batching_lines(b: dict[str, Any]) -> list[str]:
    return [f"batching: {b.get('skipped') or str(b.get('speedup')) + '×'}"]


def _scoring_lines(s: dict[str, Any]) -> list[str]:
    return [f"scoring: {s['score_seconds_per_image']} s/image vs generating {s.get('generate_seconds_per_image')} s "
            f"({s.get('generate_new_tokens')} tokens)"]


def _decode_lines(d: dict[str, Any]) -> list[str]:
    lines = []
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
    return lines


def _swin2sr_lines(s: dict[str, Any]) -> list[str]:
    return [f"swin2sr: {s['batch_1_images_per_s']} images/s at batch 1, {s['batched_images_per_s']} at batch {s['batch_size']}"]


def _cache_lines(c: dict[str, Any]) -> list[str]:
    if "skipped" in c:
        return [f"cache: {c['skipped']}"]
    return [f"cache: cold {c['cold_seconds']} s, warm {c['warm_seconds']} s → {c['speedup']}×"]


def _endpoint_lines(e: dict[str, Any]) -> list[str]:
    parts = [f"in-process {e['in_process']['batch_1']['images_per_min']}/{e['in_process']['batch_4']['images_per_min']} "
             "images/min (batch 1/4)"]
    for name in ("cxr_serve", "transformers_serve"):
        runs = e.get(name, {})
        if "skipped" in runs:
            parts.append(f"{name}: {runs['skipped']}")
        elif runs:
            parts.append(f"{name} " + "/".join(str(runs[str(c)]["images_per_min"]) for c in ENDPOINT_CONCURRENCY)
                         + f" at {'/'.join(map(str, ENDPOINT_CONCURRENCY))} concurrent")
    return ["endpoint: " + "; ".join(parts)]


#: The summary's lines for each workload, in the order they are printed.
_WORKLOAD_LINES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "bandwidth": _bandwidth_lines, "build": _build_lines, "prompts": _prompts_lines, "batching": _batching_lines,
    "scoring": _scoring_lines, "decode": _decode_lines, "swin2sr": _swin2sr_lines, "cache": _cache_lines,
    "endpoint": _endpoint_lines,
}


def summary_lines(results: dict[str, Any]) -> list[str]:
    """A short human-readable summary of a results dict (what ``cxr bench`` prints)."""
    w = results.get("workloads", {})
    env = results.get("environment", {})
    lines = [f"{'QUICK — not results. ' if results.get('quick') else ''}device {env.get('device')} "
             f"({env.get('gpu') or env.get('cpu')}, {env.get('threads')} threads), torch {env.get('torch')}"]
    for name, describe in _WORKLOAD_LINES.items():
        if name in w:
            lines += describe(w[name])
    checks = results.get("targets")
    if checks is None:
        checks = [] if results.get("quick") else check_thresholds(results)
    for check in checks:
        lines.append(f"[{'PASS' if check['pass'] else 'FAIL'}] {check['claim']}: {check['measured']} (need {check['threshold']})")
    lines.append(f"total {results.get('total_seconds')} s")
    return lines
