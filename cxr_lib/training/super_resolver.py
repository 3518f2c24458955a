"""Swin2SR trained on chest X-rays: ×4 from the real 28×28 → 112×112 train pairs, selected on val.

The model is transformers' ``Swin2SRForImageSuperResolution`` — the family of the generic
``caidas/swin2SR-classical-sr-x4-64`` — built from a small config (:data:`PRESETS`) and trained
from scratch on the train pairs of :func:`cxr_lib.data.datasets.load_hr_pairs` (real Kermany originals
of 28×28 train images; no test image, checked by :func:`cxr_lib.data.datasets.check_no_test_overlap`).
Images are fed exactly as :class:`cxr_lib.models.upscale.SuperResolver` feeds any Swin2SR: three equal
channels through the hub model's own image processor (which pads 28 → 32 with a mirrored strip),
the reconstruction cropped to 112×112, and read back as grayscale. The loss is L1 on the crop;
each epoch is scored on the val pairs by the mean PSNR of the upscaler's ``uint8`` output (as
``cxr fidelity`` measures it), and the best epoch is kept.

Training is seeded and deterministic on the CPU (same seed, data and thread count → the same
weights). The result is an ordinary Swin2SR folder — ``config.json``, ``model.safetensors``,
``preprocessor_config.json`` — loaded like any Swin2SR by
:func:`cxr_lib.models.upscale.load_super_resolver`, plus :data:`RECORD_FILE`, the record of how it was
made (preset, config, data, overlap check, seed, epochs, selection, history, versions, time).
The committed model (``artifacts/swin2sr_cxr``) is the upscaler ``swin2sr-cxr``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxr_lib.analysis.fidelity import psnr, ssim
from cxr_lib.data.datasets import HR_PAIRS_FILE, check_no_test_overlap, file_md5, load_hr_pairs
from cxr_lib.data.images import as_channels
from cxr_lib.errors import ModelLoadError, ParameterError
from cxr_lib.models.stand_ins import SWIN2SR_PREPROCESSOR
from cxr_lib.models.upscale import SuperResolver, upscale_batch
from cxr_lib.progress import progress_bar
from cxr_lib.storage import atomic_write_json, ensure_writable_dir
from cxr_lib.training.common import limit_pairs, versions

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from cxr_lib.data.datasets import HRPairs
    from cxr_lib.models.upscale import SuperResolver

#: The record written beside the weights, and its format tag.
RECORD_FILE = "training.json"
RECORD_FORMAT = "cxr-swin2sr-cxr/1"
#: What the model is measured and selected by.
SELECTION_METRIC = "mean PSNR (dB) at 112×112 on the val pairs, of the upscaler's uint8 grayscale output"


@dataclass(frozen=True)
class SRPreset:
    """How to build and train one Swin2SR."""

    name: str
    description: str
    config: dict[str, Any]  # Swin2SRConfig arguments
    epochs: int
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05  # of all steps, then cosine decay (torch OneCycleLR)
    augmentation: str = "the 8 flips and quarter turns, the same for both images of a pair"


PRESETS: dict[str, SRPreset] = {
    "cpu": SRPreset(
        name="cpu",
        description=(
            "Swin2SR ×4, embed dim 32, two residual Swin-v2 groups of 2 layers (4 heads, window 8), "
            "one-step pixel-shuffle upsampler (Swin2SR's lightweight head), trained from scratch"
        ),
        # Chosen by val PSNR in pilot runs of about 6 minutes each: this size gained more from more
        # steps than wider (embed 64) or deeper (4 groups, embed 48) ones gained from their size.
        config={"image_size": 32, "patch_size": 1, "num_channels": 3, "embed_dim": 32, "depths": [2, 2],
                "num_heads": [4, 4], "window_size": 8, "mlp_ratio": 2.0, "upscale": 4,
                "upsampler": "pixelshuffledirect", "img_range": 1.0, "resi_connection": "1conv"},
        epochs=8,
        batch_size=16,
        lr=1e-3,
    ),
}


def get_preset(name: str) -> SRPreset:
    """The preset called ``name`` (raises :class:`ParameterError` for an unknown one)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown super-resolution preset {name!r}: expected one of {', '.join(PRESETS)}") from None


# --------------------------------------------------------------------------- pieces


def build_model(preset: SRPreset) -> "torch.nn.Module":
    """A freshly initialised Swin2SR for the preset (seed the torch RNG first for fixed weights)."""
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution

    return Swin2SRForImageSuperResolution(Swin2SRConfig(**preset.config))


def image_processor() -> Any:
    """The generic Swin2SR's image processor (rescale to [0, 1], mirror-pad to the next multiple of 8)."""
    from transformers import Swin2SRImageProcessor


    settings = {k: v for k, v in SWIN2SR_PREPROCESSOR.items() if k != "image_processor_type"}
    return Swin2SRImageProcessor(**settings)


def model_inputs(low: np.ndarray, processor: Any) -> "torch.Tensor":
    """uint8 ``(N, 28, 28)`` images → the processor's ``pixel_values`` (three equal channels, padded)."""

    return processor(images=[as_channels(image, rgb=True) for image in low], return_tensors="pt")["pixel_values"]


def targets(high: np.ndarray) -> "torch.Tensor":
    """uint8 ``(N, 112, 112)`` originals → float ``(N, 3, 112, 112)`` in [0, 1] (three equal channels)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(high, dtype=np.float32) / 255.0).unsqueeze(1)
    return x.expand(-1, 3, -1, -1).contiguous()


def dihedral(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each pair flipped and turned by one of the 8 symmetries of the square, drawn from ``rng``."""
    turns = rng.integers(0, 4, size=len(low))
    flips = rng.integers(0, 2, size=len(low)).astype(bool)

    def apply(stack: np.ndarray) -> np.ndarray:
        out = [np.rot90(image[:, ::-1] if flip else image, k) for image, k, flip in zip(stack, turns, flips)]
        return np.ascontiguousarray(np.stack(out))

    return apply(low), apply(high)


def resolver_for(model: "torch.nn.Module", processor: Any, model_id: str = "swin2sr-cxr (training)") -> "SuperResolver":
    """A model being trained, wrapped as the upscaler wraps any loaded Swin2SR."""

    return SuperResolver(model.eval(), processor, model_id, None, "cpu", False, method="swin2sr-cxr")


def score_pairs(resolver: "SuperResolver", pairs: "HRPairs", batch_size: int = 64) -> dict[str, float]:
    """Mean PSNR and SSIM of the upscaler's 112×112 output against the real originals."""

    outputs = resolver.super_resolve(list(pairs.low), batch_size=batch_size)
    return {"psnr": float(np.mean([psnr(o, h) for o, h in zip(outputs, pairs.high)])),
            "ssim": float(np.mean([ssim(o, h) for o, h in zip(outputs, pairs.high)]))}


def interpolation_scores(pairs: "HRPairs", methods: tuple[str, ...] = ("bicubic", "lanczos")) -> dict[str, dict[str, float]]:
    """The same scores for PIL interpolations (what the trained model has to beat)."""

    scores = {}
    for method in methods:
        outputs = upscale_batch(list(pairs.low), method, pairs.high.shape[1])
        scores[method] = {"psnr": float(np.mean([psnr(o, h) for o, h in zip(outputs, pairs.high)])),
                          "ssim": float(np.mean([ssim(o, h) for o, h in zip(outputs, pairs.high)]))}
    return scores


def _fingerprint(indices: np.ndarray) -> str:
    """SHA-256 of the split indices used, so a record names exactly which pairs trained the model."""
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class SREpoch:
    """One epoch: mean train L1 loss, val PSNR and SSIM of the upscaler's output, learning rate, seconds."""

    epoch: int
    train_l1: float
    val_psnr: float
    val_ssim: float
    lr: float
    seconds: float


@dataclass
class SRTrainingRun:
    """A trained super-resolver: where it was written, its record, and the upscaler built from it."""

    path: Path
    record: dict[str, Any]
    resolver: "SuperResolver" = field(repr=False)

    def summary_lines(self) -> list[str]:
        """Lines for the console: what was trained, how long it took, how it compares on val."""
        sel, run = self.record["selection"], self.record["training"]
        ref = sel["val_interpolations"]
        return [
            f"trained swin2sr-cxr ({self.record['parameters']:,} parameters, preset {self.record['preset']}) in "
            f"{run['train_seconds']:.0f} s: {run['epochs']} epochs on {self.record['data']['train_pairs']} train pairs",
            f"best epoch {sel['best_epoch']}: val PSNR {sel['val_psnr']:.2f} dB, SSIM {sel['val_ssim']:.3f} "
            f"(Lanczos {ref['lanczos']['psnr']:.2f} dB / {ref['lanczos']['ssim']:.3f}, bicubic "
            f"{ref['bicubic']['psnr']:.2f} dB / {ref['bicubic']['ssim']:.3f}) on {self.record['data']['val_pairs']} val pairs",
            f"test split: {self.record['data']['test_overlap']['summary']}",
            f"wrote {self.path} (config.json, model.safetensors, preprocessor_config.json, {RECORD_FILE})",
        ]


def train_super_resolver(
    preset: str = "cpu",
    out: str | os.PathLike = "results/swin2sr_cxr",
    seed: int = 0,
    epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
    train_limit: int | None = None,
    val_limit: int | None = None,
    progress: bool = True,
) -> SRTrainingRun:
    """Train a Swin2SR on the train pairs, keep the epoch with the best val PSNR, save it to ``out``.

    ``train_limit`` / ``val_limit`` use a seeded subset of N pairs (for tests and quick checks).
    Every epoch runs (no early stop); the record keeps each epoch's scores.
    """
    import torch


    config = get_preset(preset)
    epochs = config.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    out = ensure_writable_dir(out)
    train_pairs, val_pairs = load_hr_pairs("train", data_dir), load_hr_pairs("val", data_dir)
    overlap = check_no_test_overlap([train_pairs, val_pairs], data_dir)
    train_pairs, val_pairs = (limit_pairs(train_pairs, train_limit, seed, stratified=False),
                             limit_pairs(val_pairs, val_limit, seed, stratified=False))
    processor = image_processor()
    reference = interpolation_scores(val_pairs)

    steps_per_epoch = int(np.ceil(len(train_pairs) / config.batch_size))
    history: list[SREpoch] = []
    best: tuple[float, int, dict] | None = None
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    started, started_at = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            model = build_model(config)
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=config.lr, total_steps=epochs * steps_per_epoch, pct_start=config.warmup_fraction,
                anneal_strategy="cos", cycle_momentum=False, div_factor=25.0, final_div_factor=100.0)
            rng = np.random.default_rng(seed)
            bar = progress_bar(total=epochs * steps_per_epoch, desc="train swin2sr-cxr", unit="step", disable=not progress)
            for epoch in range(1, epochs + 1):
                epoch_start = time.perf_counter()
                model.train()
                order = rng.permutation(len(train_pairs))
                total = 0.0
                for start in range(0, len(order), config.batch_size):
                    rows = order[start:start + config.batch_size]
                    low, high = dihedral(train_pairs.low[rows], train_pairs.high[rows], rng)
                    x, y = model_inputs(low, processor), targets(high)
                    side = y.shape[-1]
                    output = model(pixel_values=x).reconstruction[:, :, :side, :side]
                    loss = torch.nn.functional.l1_loss(output, y)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    lr = schedule.get_last_lr()[0]
                    schedule.step()
                    total += float(loss.detach()) * len(rows)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, l1=f"{float(loss.detach()):.4f}")
                scores = score_pairs(resolver_for(model, processor), val_pairs)
                history.append(SREpoch(epoch, total / len(train_pairs), scores["psnr"], scores["ssim"], float(lr),
                                       time.perf_counter() - epoch_start))
                if best is None or scores["psnr"] > best[0]:
                    best = (scores["psnr"], epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
                bar.set_postfix(epoch=epoch, val_psnr=f"{scores['psnr']:.2f}", best=f"{best[0]:.2f}@{best[1]}")
            bar.close()
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
    seconds = time.perf_counter() - started
    assert best is not None
    model.load_state_dict(best[2])
    model.eval()
    chosen = history[best[1] - 1]
    record = {
        "format": RECORD_FORMAT,
        "method": "swin2sr-cxr",
        "preset": config.name,
        "description": config.description,
        "model_class": "transformers.Swin2SRForImageSuperResolution",
        "architecture": dict(config.config),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "input": "28×28 grayscale as three equal channels, the generic Swin2SR's image processor (mirror padding "
                 "to 32×32), reconstruction cropped to 112×112 and read back as grayscale",
        "data": {
            "file": HR_PAIRS_FILE,  # by name: no local path in a record
            "md5": file_md5(train_pairs.path),
            "train_pairs": len(train_pairs),
            "val_pairs": len(val_pairs),
            "train_index_sha256": _fingerprint(train_pairs.indices),
            "val_index_sha256": _fingerprint(val_pairs.indices),
            "test_overlap": {"summary": overlap.describe(), "shared_sources": len(overlap.shared_sources),
                             "max_correlation": round(overlap.max_correlation, 4),
                             "near_duplicates": overlap.near_duplicates},
        },
        "training": {
            "seed": seed, "epochs": epochs, "steps": epochs * steps_per_epoch, "batch_size": config.batch_size,
            "optimizer": f"AdamW (weight decay {config.weight_decay})", "loss": "L1 on the 112×112 crop",
            "schedule": f"one cycle: {config.warmup_fraction:.0%} warm-up to {config.lr}, cosine decay",
            "augmentation": config.augmentation, "device": "cpu", "threads": torch.get_num_threads(),
            "train_seconds": round(seconds, 1), "started_utc": started_at,
        },
        "selection": {
            "metric": SELECTION_METRIC, "best_epoch": best[1], "val_psnr": round(chosen.val_psnr, 4),
            "val_ssim": round(chosen.val_ssim, 5),
            "val_interpolations": {m: {k: round(v, 5) for k, v in s.items()} for m, s in reference.items()},
        },
        "history": [asdict(h) for h in history],
        "versions": versions("torch", "transformers", "numpy"),
    }
    save_super_resolver(model, processor, record, out)
    return SRTrainingRun(out, read_record(out), resolver_for(model, processor, str(out)))


def save_super_resolver(model: "torch.nn.Module", processor: Any, record: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write an ordinary Swin2SR folder (safetensors weights, config, processor) and the record."""

    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    atomic_write_json(folder / "preprocessor_config.json", SWIN2SR_PREPROCESSOR)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    atomic_write_json(folder / RECORD_FILE, {**record, "weights_sha256": digest})
    return folder


def read_record(folder: str | os.PathLike) -> dict[str, Any]:
    """The training record of a trained folder (:class:`ModelLoadError` when absent or unreadable)."""
    path = Path(folder) / RECORD_FILE
    hint = "train one with `cxr sr train --preset cpu --out DIR`"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{path} does not exist: {hint}") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON ({type(exc).__name__}): {hint}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ModelLoadError(f"{path} is not a {RECORD_FORMAT} record: {hint}")
    return record
