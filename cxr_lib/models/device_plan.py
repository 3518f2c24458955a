"""Precision, quantisation and batch size from the GPU's capability and memory, with the memory it takes.

:func:`choose` picks how MedGemma runs on a CUDA device from what the device is (:class:`Gpu`:
compute capability and memory) and what the model is (:class:`ModelShape`, read from its
``config.json``), and says why in one line (:meth:`DeviceConfig.line`):

- **sm80 and newer** (A100, L4, H100, H200): bfloat16, PyTorch's fused attention; the largest batch
  whose estimated peak fits.
- **older GPUs** (T4 sm75, V100 sm70): no native bfloat16. float16 is never an option (Gemma 3
  overflows in it and answers with nothing), bfloat16 is emulated and PyTorch's memory-efficient
  attention does not take it below sm80, so the vision tower's 4096-patch attention would fall back
  to the math kernel and hold each image's attention scores in memory. With bitsandbytes installed the
  choice is 4-bit NF4 weights with float32 compute (float32 keeps the memory-efficient kernel);
  without it, emulated bfloat16 at the batch that fits.

An explicit ``dtype`` or ``load_in_4bit=True`` is kept, and only the batch is then chosen; leaving
both unset (``load_in_4bit=False`` is unset) lets the device decide.

:func:`estimate_memory` is the memory model behind the choice: weights by precision (4-bit: 0.5 byte
and a float32 scale per 64 weights for every linear layer; embeddings and norms stay in the compute
dtype), and per image the key/value cache (Gemma 3's sliding-window layers keep at most their
window), the vision tower's activations (and, on the math kernel, its attention scores and their
softmax), plus a fixed allowance for the CUDA context and the largest dequantised weight. It is an
estimate, not a measurement: the budget keeps 8% of the card free for the allocator.

:data:`CARDS` holds the datasheet figures of the common cards, for the plan (:mod:`cxr_lib.tooling.plan`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from cxr_lib.errors import ParameterError

GIB = 1024 ** 3
#: Memory the CUDA context and cuBLAS workspace take before any tensor (bytes).
CONTEXT_BYTES = int(0.75 * GIB)
#: Share of the card kept free for the caching allocator's fragmentation.
HEADROOM = 0.08
#: Prompt tokens assumed per image when none are given (MedGemma: 256 image tokens and the prompt's ~60).
PROMPT_TOKENS = 320
#: The largest batch :func:`choose` proposes.
MAX_BATCH = 32


@dataclass(frozen=True)
class Gpu:
    """A CUDA device: its name, compute capability and total memory."""

    name: str
    capability: tuple[int, int]
    memory_bytes: int

    @property
    def native_bf16(self) -> bool:
        """Whether the device computes bfloat16 natively (sm80 and newer)."""
        return tuple(self.capability) >= (8, 0)

    @property
    def kind(self) -> str:
        """How records name the device: ``cuda <name> (sm<major><minor>)``."""
        return f"cuda {self.name} (sm{self.capability[0]}{self.capability[1]})"


@dataclass(frozen=True)
class Card:
    """A card's datasheet figures: memory, memory bandwidth, dense bfloat16 and float32 throughput."""

    name: str
    capability: tuple[int, int]
    memory_gib: float
    bandwidth_gb_s: float
    bf16_tflops: float | None  # None: no native bfloat16
    fp32_tflops: float

    def gpu(self) -> Gpu:
        """The card as :func:`choose` sees it."""
        return Gpu(self.name, self.capability, int(self.memory_gib * GIB))


#: Common cards (NVIDIA datasheets; A100 40 GB SXM as on Colab, H100 80 GB SXM). Memory is what
#: ``torch.cuda.get_device_properties`` reports, a little under the marketed size.
CARDS: dict[str, Card] = {
    "T4": Card("Tesla T4", (7, 5), 14.75, 320.0, None, 8.1),
    "L4": Card("NVIDIA L4", (8, 9), 22.0, 300.0, 121.0, 30.3),
    "A100": Card("NVIDIA A100-SXM4-40GB", (8, 0), 39.4, 1555.0, 312.0, 19.5),
    "H100": Card("NVIDIA H100 80GB HBM3", (9, 0), 79.1, 3350.0, 989.0, 67.0),
    "H200": Card("NVIDIA H200", (9, 0), 139.8, 4800.0, 989.0, 67.0),
}


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on in a Gemma 3 image-text model (its ``config.json``)."""

    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    sliding_window: int | None
    full_layers: int
    vision_hidden: int
    vision_intermediate: int
    vision_layers: int
    vision_heads: int
    patches: int
    patch_size: int
    image_tokens: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ModelShape":
        """From a Gemma 3 ``config.json`` (its ``text_config`` and ``vision_config``)."""
        text, vision = dict(config.get("text_config") or {}), dict(config.get("vision_config") or {})
        layers = int(text["num_hidden_layers"])
        types = text.get("layer_types") or []
        full = sum(1 for t in types if t == "full_attention") if types else layers // 6
        side = int(vision["image_size"]) // int(vision["patch_size"])
        return cls(
            vocab=int(text["vocab_size"]), hidden=int(text["hidden_size"]), intermediate=int(text["intermediate_size"]),
            layers=layers, heads=int(text["num_attention_heads"]), kv_heads=int(text["num_key_value_heads"]),
            head_dim=int(text.get("head_dim") or int(text["hidden_size"]) // int(text["num_attention_heads"])),
            sliding_window=text.get("sliding_window"), full_layers=full,
            vision_hidden=int(vision["hidden_size"]), vision_intermediate=int(vision["intermediate_size"]),
            vision_layers=int(vision["num_hidden_layers"]), vision_heads=int(vision["num_attention_heads"]),
            patches=side * side, patch_size=int(vision["patch_size"]), image_tokens=int(config.get("mm_tokens_per_image") or 256),
        )

    def parameters(self) -> dict[str, int]:
        """Parameter counts: ``linear`` (the weights 4-bit quantises) and ``other`` (embeddings, norms, …)."""
        h, q, kv = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim
        text_linear = self.layers * (h * (q + 2 * kv) + q * h + 3 * h * self.intermediate)
        text_other = self.vocab * h + self.layers * (4 * h + 2 * self.head_dim) + h
        vh, vi = self.vision_hidden, self.vision_intermediate
        vision_linear = self.vision_layers * (4 * vh * vh + 2 * vh * vi)
        patch_embedding = 3 * self.patch_size * self.patch_size * vh + vh
        vision_other = self.vision_layers * (9 * vh + vi) + patch_embedding + self.patches * vh + 2 * vh
        projector = vh * h + vh  # a parameter and a norm, not a linear layer: never quantised
        linear, other = text_linear + vision_linear, text_other + vision_other + projector
        return {"linear": linear, "other": other, "total": linear + other}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory, in bytes, and its parts."""

    weights: int
    per_image: int
    fixed: int
    batch: int

    @property
    def total(self) -> int:
        return self.weights + self.fixed + self.batch * self.per_image


def _bytes(dtype: str) -> int:
    return 4 if dtype == "float32" else 2


def kv_bytes(shape: ModelShape, dtype: str, tokens: int) -> int:
    """The key/value cache of one sequence of ``tokens`` (sliding-window layers keep at most their window)."""
    window = min(tokens, shape.sliding_window or tokens)
    layer_tokens = shape.full_layers * tokens + (shape.layers - shape.full_layers) * window
    return layer_tokens * 2 * shape.kv_heads * shape.head_dim * _bytes(dtype)


def estimate_memory(shape: ModelShape, dtype: str, four_bit: bool, batch: int, *, math_attention: bool = False,
                    prompt_tokens: int = PROMPT_TOKENS, max_new_tokens: int = 1024) -> MemoryEstimate:
    """The estimated peak memory of generating ``batch`` reports at once (see the module docstring)."""
    size = _bytes(dtype)
    counts = shape.parameters()
    if four_bit:
        weights = int(counts["linear"] * (0.5 + 4 / 64)) + counts["other"] * size
    else:
        weights = counts["total"] * size
    kv = kv_bytes(shape, dtype, prompt_tokens + max_new_tokens)
    vision = shape.patches * (5 * shape.vision_hidden + shape.vision_intermediate) * size
    if math_attention:
        vision += 2 * shape.vision_heads * shape.patches * shape.patches * size
    language = prompt_tokens * (4 * shape.hidden + 2 * shape.intermediate) * size + 2 * shape.vocab * 4
    dequantised = shape.hidden * shape.intermediate * size if four_bit else 0  # one layer's weight at a time
    return MemoryEstimate(weights=weights, per_image=kv + vision + language, fixed=CONTEXT_BYTES + dequantised,
                          batch=batch)


def budget(gpu: Gpu) -> int:
    """The memory :func:`choose` plans to use: the card's, less :data:`HEADROOM`."""
    return int(gpu.memory_bytes * (1 - HEADROOM))


@dataclass(frozen=True)
class DeviceConfig:
    """How the model runs on one device, chosen by :func:`choose`."""

    device_kind: str
    dtype: str  # the compute dtype: "bfloat16" | "float32"
    load_in_4bit: bool
    attention: str  # the attention implementation asked of transformers
    max_batch: int  # the largest batch that fits (0: not even one)
    memory: MemoryEstimate  # at a batch of one
    budget: int
    reason: str

    def batch_for(self, requested: int) -> int:
        """The batch to run when ``requested`` is asked for: at most what fits, at least one."""
        return max(1, min(int(requested), self.max_batch))

    def peak(self, batch: int) -> int:
        """The estimated peak memory at ``batch`` images per batch (bytes)."""
        return self.memory.weights + self.memory.fixed + batch * self.memory.per_image

    def line(self, batch: int | None = None) -> str:
        """One line: the device, what was chosen and why, and the memory it is expected to take at
        ``batch`` (default: the largest batch that fits)."""
        weights = "4-bit NF4 weights with " + self.dtype + " compute" if self.load_in_4bit else self.dtype
        head = f"{self.device_kind}: {self.reason} → {weights}, {self.attention} attention"
        if not self.max_batch:
            return (f"{head}; not even one image fits (estimated {self.peak(1) / GIB:.1f} GiB of "
                    f"{self.budget / GIB:.1f} GiB usable): load in 4-bit or use a larger GPU")
        batch = self.max_batch if batch is None else self.batch_for(batch)
        return (f"{head}; batch {batch}: estimated peak {self.peak(batch) / GIB:.1f} GiB of {self.budget / GIB:.1f} GiB "
                f"usable (up to {self.max_batch} fit)")


def four_bit_available() -> bool:
    """Whether bitsandbytes (4-bit loading) is installed."""
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def choose(gpu: Gpu, shape: ModelShape, *, dtype: str | None = None, load_in_4bit: bool | None = None,
           can_4bit: bool | None = None, max_new_tokens: int = 1024, prompt_tokens: int = PROMPT_TOKENS) -> DeviceConfig:
    """The precision, quantisation and batch limit for ``shape`` on ``gpu`` (see the module docstring).

    ``dtype`` / ``load_in_4bit``: the caller's explicit choice (kept), or ``None`` to choose.
    ``can_4bit``: whether 4-bit loading is possible (default: whether bitsandbytes is installed).
    """
    can_4bit = four_bit_available() if can_4bit is None else can_4bit
    if gpu.native_bf16:
        reason = "native bfloat16"
        chosen_dtype, four_bit = dtype or "bfloat16", bool(load_in_4bit)
    elif dtype is not None or load_in_4bit:
        reason = "no native bfloat16 (kept as asked)"
        chosen_dtype, four_bit = dtype or "float32", bool(load_in_4bit)
    elif can_4bit:
        reason = "no native bfloat16 (float16 empties Gemma 3's answers)"
        chosen_dtype, four_bit = "float32", True
    else:
        reason = "no native bfloat16 and no bitsandbytes for 4-bit (emulated bfloat16, math attention)"
        chosen_dtype, four_bit = "bfloat16", False
    math = chosen_dtype == "bfloat16" and not gpu.native_bf16
    limit = budget(gpu)

    def at(batch: int) -> MemoryEstimate:
        return estimate_memory(shape, chosen_dtype, four_bit, batch, math_attention=math,
                               prompt_tokens=prompt_tokens, max_new_tokens=max_new_tokens)

    fitting = [b for b in range(1, MAX_BATCH + 1) if at(b).total <= limit]
    return DeviceConfig(gpu.kind, chosen_dtype, four_bit, "sdpa", max(fitting, default=0), at(1), limit, reason)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX); on AVX2 a bfloat16 matmul is ~500× slower than float32."""
    import torch

    try:
        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    except Exception:  # pragma: no cover
        return False


def refuse_float16(dtype: Any) -> None:
    """:class:`ParameterError` for float16 (a name or ``torch.float16``): Gemma 3 gives empty output in it."""
    if dtype is not None and re.search(r"(?<!b)(float16|fp16|half)", str(dtype)):
        raise ParameterError("float16 makes Gemma 3 produce empty output (transformers issue 36822): use bfloat16 or float32")


def torch_dtype(device: str, dtype: Any) -> Any:
    """The torch dtype for a name (``bfloat16``, ``float32``) or dtype; unset: bfloat16 on CUDA, and on a
    CPU bfloat16 only where it is native. float16 and unknown names are refused."""
    import torch

    refuse_float16(dtype)
    names = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float32": torch.float32, "fp32": torch.float32}
    if isinstance(dtype, str):
        if dtype not in names:
            raise ParameterError(f"unknown dtype {dtype!r}: use bfloat16 or float32")
        dtype = names[dtype]
    if dtype is not None:
        return dtype
    if device.startswith("cuda"):
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def detect_gpu(device: str = "cuda") -> Gpu:
    """The CUDA device ``device`` (``cuda`` or ``cuda:N``) as torch reports it."""
    import torch

    index = torch.device(device).index or 0
    properties = torch.cuda.get_device_properties(index)
    return Gpu(str(properties.name), tuple(torch.cuda.get_device_capability(index)), int(properties.total_memory))
