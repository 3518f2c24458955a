"""The sizes ``cxr bench`` runs at: MedGemma's real architecture (``FULL``) and a toy (``QUICK``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Concurrent requests the endpoint workload measures.
ENDPOINT_CONCURRENCY = (1, 4, 16)
#: The two languages of the eight-prompt workload (with the four strategies).
PROMPT_LANGUAGES = ("en", "fr")
#: Report lengths the scoring comparison projects to (the reference analysis used 150 new tokens).
PROJECTED_REPORT_TOKENS = (150, 300)
#: On a GPU the bandwidth buffer must dwarf its caches (50-60 MB of L2).
GPU_BANDWIDTH_MIB = 4096


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
        """The vision tower's input side, in pixels."""
        return int(self.vision["image_size"])

    def bandwidth_mib_on(self, device: str) -> int:
        """The bandwidth buffer for ``device``: :data:`GPU_BANDWIDTH_MIB` on a GPU (full runs)."""
        return GPU_BANDWIDTH_MIB if device.startswith("cuda") and not self.quick else self.bandwidth_mib


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
    """``QUICK`` for ``--quick``, else ``FULL``."""
    return QUICK if quick else FULL
