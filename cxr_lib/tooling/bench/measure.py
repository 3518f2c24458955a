"""Timing a call, recording the machine it ran on, and freeing memory between workloads."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable


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
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()),
        "load_average_start": load_average(),
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def load_average() -> list[float] | None:
    """The system's 1, 5 and 15-minute load averages (``None`` where the system has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
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


def timed(fn: Callable[[], Any], device: str) -> tuple[Any, float]:
    """``fn()`` and the seconds it took, the GPU synchronised on both sides."""
    _sync(device)
    start = time.perf_counter()
    value = fn()
    _sync(device)
    return value, time.perf_counter() - start


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), so peaks do not stack."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
