"""The CNN baseline: a MaxViT (``timm``) trained on PneumoniaMNIST, its checkpoints and predictions.

Two presets (:data:`PRESETS`): ``cpu`` trains a small MaxViT from scratch at 32×32 on this
kind of machine in minutes; ``gpu`` fine-tunes an ImageNet-pretrained MaxViT at 224×224.
Training is seeded and deterministic on CPU, weights the classes against the train split's
imbalance, selects the epoch by validation AUC and stops early. The decision threshold is
chosen on validation (Youden's J, which does not depend on the class mix: validation is 26%
normal, test 37.5%) and stored with the weights.

A checkpoint is a folder with ``model.safetensors`` (never unpickled) and ``checkpoint.json``
(preset, timm model, input size, seed, epochs, data source, threshold; the metrics are added by
:func:`cxr_lib.training.cnn.run_training`). :func:`predict_split` gives a predictions table
(:mod:`cxr_lib.data.predictions`); measuring it, the benchmark table and the figures are in
:mod:`cxr_lib.analysis.cnn_eval`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from cxr_lib.data.artifacts import locate
from cxr_lib.data.cases import stratified_sample
from cxr_lib.data.datasets import Split, load_split
from cxr_lib.data.predictions import predictions_frame
from cxr_lib.errors import CheckpointError, ModelLoadError, ParameterError
from cxr_lib.progress import progress_bar
from cxr_lib.storage import atomic_write_bytes, atomic_write_json, ensure_writable_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "checkpoint.json"
CHECKPOINT_FORMAT = "cxr-baseline/1"
METADATA_KEY = "cxr_baseline"  # the safetensors metadata entry naming the model and input size
THRESHOLD_RULE = "Youden's J on the validation split (maximises sensitivity + specificity)"


@dataclass(frozen=True)
class Preset:
    """How to build and train one MaxViT baseline."""

    name: str
    model_name: str  # timm registry name
    input_size: int  # the 28×28 images are resized to input_size × input_size
    pretrained: bool  # ImageNet weights from the hub
    description: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # overrides of the timm config
    epochs: int = 20
    patience: int = 6  # early stopping: epochs without a better validation AUC
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    label_smoothing: float = 0.0
    mean: float = 0.5  # grayscale normalisation after scaling to [0, 1]
    std: float = 0.5


PRESETS: dict[str, Preset] = {
    "cpu": Preset(
        name="cpu",
        model_name="maxvit_pico_rw_256",
        input_size=32,
        pretrained=False,
        description=(
            "MaxViT-Pico (timm maxvit_pico_rw_256) cut to its first three stages (32-64-128 channels, "
            "depths 1-2-3) with 2×2 block and grid attention, at 32×32, trained from scratch"
        ),
        # At 32 px the stages see 8, 4 and 2 pixels a side: a 2×2 window and grid divide all three
        # (the fourth stage would be 1×1 and its attention empty).
        model_kwargs={"depths": (1, 2, 3), "embed_dim": (32, 64, 128), "transformer_window_size": (2, 2)},
        epochs=20,
        patience=6,
        batch_size=64,
        lr=2e-3,
        weight_decay=0.05,
    ),
    "gpu": Preset(
        name="gpu",
        model_name="maxvit_tiny_tf_224",
        input_size=224,
        pretrained=True,
        description="MaxViT-Tiny (timm maxvit_tiny_tf_224), ImageNet-1k weights, fine-tuned at 224×224",
        epochs=10,
        patience=3,
        batch_size=32,
        lr=1e-4,
        weight_decay=0.05,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (raises :class:`ParameterError` for an unknown one)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown baseline preset {name!r}: expected one of {', '.join(PRESETS)}") from None


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ModelSpec:
    """What is needed to rebuild a baseline network: written to and read from ``checkpoint.json``."""

    preset: str
    model_name: str
    input_size: int
    model_kwargs: dict[str, Any]
    mean: float
    std: float
    in_chans: int = 1
    num_classes: int = 2

    @classmethod
    def from_preset(cls, preset: Preset) -> "ModelSpec":
        return cls(preset.name, preset.model_name, preset.input_size, dict(preset.model_kwargs), preset.mean, preset.std)

    def describe(self) -> str:
        """E.g. ``maxvit_pico_rw_256 at 32×32 (preset cpu)``."""
        return f"{self.model_name} at {self.input_size}×{self.input_size} (preset {self.preset})"


def _timm_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; timm's configs want tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def build_model(spec: ModelSpec, pretrained: bool = False) -> "torch.nn.Module":
    """A timm MaxViT for one-channel input and two classes (``pretrained``: ImageNet weights from the hub)."""
    import timm

    kwargs = dict(in_chans=spec.in_chans, num_classes=spec.num_classes, img_size=spec.input_size,
                  **_timm_kwargs(spec.model_kwargs))
    if not pretrained:
        return timm.create_model(spec.model_name, pretrained=False, **kwargs)
    try:
        return timm.create_model(spec.model_name, pretrained=True, **kwargs)
    except Exception as exc:  # hub and network errors come in many types
        raise ModelLoadError(
            f"could not get the ImageNet weights of {spec.model_name} ({type(exc).__name__}): connect to the "
            "Hugging Face hub or pre-cache the weights, or train from scratch with --preset cpu"
        ) from exc


def prepare_images(images: np.ndarray, spec: ModelSpec, augment: bool = False,
                   generator: "torch.Generator | None" = None) -> "torch.Tensor":
    """uint8 ``(N, H, W)`` images → normalised float ``(N, 1, S, S)`` at the model's input size.

    Resizing is bilinear, through ``affine_grid``/``grid_sample``, so that augmentation (a small
    rotation, shift and zoom, and a little brightness and contrast jitter; never a flip) is the
    same resampling with a random affine map. ``generator`` makes the augmentation reproducible.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.array(images, dtype=np.float32)).unsqueeze(1) / 255.0
    n, size = x.shape[0], spec.input_size
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    if augment:
        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=generator)

        angle = uniform(-10.0, 10.0) * (np.pi / 180.0)
        scale = uniform(0.9, 1.1)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
        theta[:, :, 2] = torch.stack([uniform(-0.12, 0.12), uniform(-0.12, 0.12)], dim=1)  # ±6% of the side
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if augment:
        contrast = uniform(0.9, 1.1).view(n, 1, 1, 1)
        brightness = uniform(-0.05, 0.05).view(n, 1, 1, 1)
        mean = x.mean(dim=(2, 3), keepdim=True)
        x = ((x - mean) * contrast + mean + brightness).clamp(0.0, 1.0)
    return (x - spec.mean) / spec.std


def model_probabilities(model: "torch.nn.Module", images: np.ndarray, spec: ModelSpec,
                        batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    """P(pneumonia) for each image (the softmax of the two logits), in evaluation mode."""
    logits = model_logits(model, images, spec, batch_size, device)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return (probs[:, 1] / probs.sum(axis=1)).astype(np.float64)


def model_logits(model: "torch.nn.Module", images: np.ndarray, spec: ModelSpec,
                 batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    """The model's two logits for each image, ``(N, 2)`` float32."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = prepare_images(images[start:start + batch_size], spec).to(device)
            out.append(model(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, spec.num_classes), dtype=np.float32)


# --------------------------------------------------------------------------- threshold


def choose_threshold(labels: Sequence[int], probs: Sequence[float]) -> float:
    """The threshold on P(pneumonia) that maximises Youden's J (sensitivity + specificity − 1).

    Candidates are midpoints between consecutive distinct scores, so the threshold separates
    scores instead of sitting on one; ties in J go to the candidate nearest 0.5.
    """
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(np.unique(labels)) < 2:
        return 0.5
    unique = np.unique(probs)
    candidates = np.concatenate([[0.0], (unique[:-1] + unique[1:]) / 2, [1.0]]) if len(unique) > 1 else np.array([0.5])
    called = probs[None, :] >= candidates[:, None]
    sensitivity = (called & (labels == 1)).sum(axis=1) / (labels == 1).sum()
    specificity = (~called & (labels == 0)).sum(axis=1) / (labels == 0).sum()
    j = sensitivity + specificity - 1
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


# --------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """A loaded baseline: the network in evaluation mode, its spec, threshold and recorded info."""

    path: Path
    spec: ModelSpec
    threshold: float
    info: dict[str, Any]
    model: "torch.nn.Module"

    def describe(self) -> str:
        return f"{self.spec.describe()}, threshold {self.threshold:.4f}, from {self.path}"


def save_checkpoint(model: "torch.nn.Module", spec: ModelSpec, info: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` and ``checkpoint.json`` into ``folder``; return the folder."""
    from safetensors.torch import save

    folder = ensure_writable_dir(folder)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    # One metadata entry: safetensors writes several in an arbitrary order, which would make the
    # bytes of two identical trainings differ.
    about = {"format": CHECKPOINT_FORMAT, "model_name": spec.model_name, "input_size": spec.input_size}
    metadata = {METADATA_KEY: json.dumps(about, sort_keys=True)}
    atomic_write_bytes(folder / WEIGHTS_FILE, save(tensors, metadata=metadata))
    write_checkpoint_info(folder, spec, info)
    return folder


def write_checkpoint_info(folder: str | os.PathLike, spec: ModelSpec, info: dict[str, Any]) -> Path:
    """(Re)write ``checkpoint.json``: the model spec first, then ``info`` (threshold, metrics, ...)."""
    payload = {"format": CHECKPOINT_FORMAT, **asdict(spec), **info}
    return atomic_write_json(Path(folder) / CONFIG_FILE, payload)


def read_checkpoint_info(folder: str | os.PathLike) -> dict[str, Any]:
    """The validated contents of a checkpoint folder's ``checkpoint.json``."""
    folder = Path(folder)
    hint = "train one with `cxr baseline train --preset cpu --out DIR`"
    if not folder.exists():
        raise CheckpointError(f"checkpoint folder {folder} does not exist: {hint}")
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint {folder} is not a folder: pass the folder holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint folder {folder} is incomplete (no {' or '.join(missing)}): {hint}")
    try:
        info = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / CONFIG_FILE} is not readable JSON ({type(exc).__name__}): {hint}") from exc
    required = ("format", "preset", "model_name", "input_size", "model_kwargs", "mean", "std", "threshold")
    if not isinstance(info, dict) or info.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{folder / CONFIG_FILE} is not a {CHECKPOINT_FORMAT} checkpoint file: {hint}")
    absent = [k for k in required if k not in info]
    if absent:
        raise CheckpointError(f"{folder / CONFIG_FILE} lacks {', '.join(absent)}: {hint}")
    return info


def read_threshold(folder: str | os.PathLike) -> float:
    """The decision threshold stored in a run folder's ``checkpoint.json`` (the weights need not be there)."""
    path = locate(folder) / CONFIG_FILE
    hint = "pass the folder of the run that wrote the predictions (it holds checkpoint.json)"
    try:
        threshold = json.loads(path.read_text())["threshold"]
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} does not exist: {hint}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} holds no readable threshold ({type(exc).__name__}): {hint}") from exc
    if not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise CheckpointError(f"{path} has threshold {threshold!r}, not a probability in (0, 1): {hint}")
    return float(threshold)


def load_checkpoint(folder: str | os.PathLike, preset: str | None = None, device: str | None = None) -> Checkpoint:
    """Load a checkpoint folder (safetensors only, never pickle) and check it is whole and consistent.

    ``preset``, when given, must match the preset the checkpoint was trained with. The weights
    must fit the model and input size that ``checkpoint.json`` names. ``device`` defaults to the
    CPU for the ``cpu`` preset (bit-for-bit reproducible) and to CUDA, when there is one, otherwise.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = Path(folder)
    info = read_checkpoint_info(folder)
    spec = ModelSpec(
        preset=str(info["preset"]), model_name=str(info["model_name"]), input_size=int(info["input_size"]),
        model_kwargs=dict(info["model_kwargs"]), mean=float(info["mean"]), std=float(info["std"]),
        in_chans=int(info.get("in_chans", 1)), num_classes=int(info.get("num_classes", 2)),
    )
    if preset is not None and get_preset(preset).name != spec.preset:
        raise CheckpointError(f"checkpoint {folder} was trained with preset {spec.preset!r}, not {preset!r}: "
                              f"pass a {preset} checkpoint or drop the preset")
    weights = folder / WEIGHTS_FILE
    try:
        with safe_open(str(weights), framework="pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{weights} is not a readable safetensors file ({type(exc).__name__}): "
                              "the checkpoint is damaged; train it again") from exc
    try:
        about = json.loads(metadata[METADATA_KEY])
        saved_for = (str(about["model_name"]), int(about["input_size"]))
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{weights} was not written by `cxr baseline train` (no {METADATA_KEY} metadata): "
                              "train the checkpoint again") from None
    if saved_for != (spec.model_name, spec.input_size):
        raise CheckpointError(
            f"{weights} holds weights for {saved_for[0]} at {saved_for[1]} px but {CONFIG_FILE} says "
            f"{spec.model_name} at {spec.input_size} px: the folder mixes two checkpoints; train it again")
    try:
        model = build_model(spec, pretrained=False)
    except Exception as exc:  # timm raises assertion, type and runtime errors for impossible configs
        raise CheckpointError(f"{folder / CONFIG_FILE} describes a model timm cannot build ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'no message'}): train the checkpoint again") from exc
    expected = model.state_dict()
    wrong_shape = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if wrong_shape or missing or unexpected:
        raise CheckpointError(
            f"weights in {weights} do not fit {spec.describe()} ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(wrong_shape)} of another shape): they come from another model or input size")
    model.load_state_dict(state, strict=True)
    if device is None:
        import torch

        device = "cuda" if spec.preset != "cpu" and torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    return Checkpoint(folder, spec, float(info["threshold"]), info, model)


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class EpochLog:
    """One epoch of training: mean train loss, validation loss and AUC, learning rate, seconds."""

    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float
    lr: float
    seconds: float


def class_weights(labels: np.ndarray, num_classes: int = 2) -> np.ndarray:
    """Inverse-frequency class weights ``N / (K · n_k)`` (1 for balanced classes)."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes).astype(float)
    if (counts == 0).any():
        raise ParameterError(f"the training labels lack a class (counts {counts.astype(int).tolist()}): "
                             "train on more images")
    return counts.sum() / (num_classes * counts)


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up then cosine decay to 1% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * progress)))


def train(
    preset: str = "cpu",
    out: str | os.PathLike = "results/baseline",
    seed: int = 0,
    epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
    train_limit: int | None = None,
    val_limit: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> Checkpoint:
    """Train a baseline, keep the epoch with the best validation AUC, and save it to ``out``.

    ``train_limit`` / ``val_limit`` train and select on a seeded, class-stratified subset of N
    images of each split (for tests and quick checks). The threshold is chosen on the validation
    split and saved; the metrics with their intervals are measured and added by
    :func:`cxr_lib.training.cnn.run_training`.
    """
    import torch

    config = get_preset(preset)
    epochs = config.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ParameterError(f"epochs must be at least 1, got {epochs}")
    out = ensure_writable_dir(out)
    device = device or ("cuda" if config.name == "gpu" and torch.cuda.is_available() else "cpu")
    spec = ModelSpec.from_preset(config)
    train_split, val_split = load_split("train", 28, data_dir), load_split("val", 28, data_dir)
    train_split, val_split = _limit(train_split, train_limit, seed), _limit(val_split, val_limit, seed)
    train_x, train_y, val_x, val_y = train_split.images, train_split.labels, val_split.images, val_split.labels
    weights = class_weights(train_y)

    deterministic_before = torch.are_deterministic_algorithms_enabled()
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            model = build_model(spec, pretrained=config.pretrained).to(device)
            history, best_state, best_epoch = _fit(
                model, spec, config, epochs, seed, train_x, train_y, val_x, val_y, weights, device, progress)
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
    seconds = time.perf_counter() - started
    model.load_state_dict(best_state)
    model.eval()

    val_probs = model_probabilities(model, val_x, spec, device=device)
    threshold = choose_threshold(val_y, val_probs)
    info = {
        "seed": seed,
        "epochs": epochs,
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "early_stopped": len(history) < epochs,
        "pretrained": config.pretrained,
        "description": config.description,
        "training": {k: getattr(config, k) for k in ("batch_size", "lr", "weight_decay", "warmup_epochs",
                                                      "patience", "label_smoothing")}
        | {"class_weights": weights.round(6).tolist(), "augmentation": "rotation ±10°, shift ±6%, zoom 0.9-1.1, "
           "brightness ±0.05, contrast 0.9-1.1, no flips", "selection": "best validation AUC",
           "device": device, "train_seconds": round(seconds, 1)},
        "data": {
            "source": train_split.source.describe(),
            "md5": train_split.source.md5,
            "official": train_split.source.official,
            "train_images": int(len(train_y)),
            "val_images": int(len(val_y)),
        },
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "history": [asdict(h) for h in history],
        "versions": _versions(),
    }
    save_checkpoint(model, spec, info, out)
    return Checkpoint(out, spec, threshold, {"format": CHECKPOINT_FORMAT, **asdict(spec), **info}, model)


def _fit(model: "torch.nn.Module", spec: ModelSpec, config: Preset, epochs: int, seed: int,
         train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
         weights: np.ndarray, device: str, progress: bool) -> tuple[list[EpochLog], dict, int]:
    """The training loop (see :func:`train`): returns the history, the best state and its epoch."""
    import torch
    import torch.nn.functional as F
    from sklearn.metrics import roc_auc_score

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_weights = torch.as_tensor(weights, dtype=torch.float32, device=device)
    steps_per_epoch = max(1, int(np.ceil(len(train_y) / config.batch_size)))
    total_steps, warmup = epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch
    labels_t = torch.as_tensor(train_y, dtype=torch.long)
    history: list[EpochLog] = []
    best_auc, best_epoch, best_state, stale, step = -np.inf, 0, None, 0, 0
    bar = progress_bar(range(1, epochs + 1), desc=f"train {spec.model_name}@{spec.input_size}", unit="epoch",
               disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_y), generator=generator)
        total_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            lr = _lr_at(step, total_steps, warmup, config.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = prepare_images(train_x[rows.numpy()], spec, augment=True, generator=generator).to(device)
            y = labels_t[rows].to(device)
            loss = F.cross_entropy(model(x), y, weight=loss_weights, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(rows)
            step += 1
        logits = model_logits(model, val_x, spec, device=device)
        val_loss = float(F.cross_entropy(torch.as_tensor(logits), torch.as_tensor(val_y, dtype=torch.long),
                                         weight=loss_weights.cpu()))
        probs = torch.softmax(torch.as_tensor(logits), dim=1)[:, 1].numpy()
        val_auc = float(roc_auc_score(val_y, probs)) if len(np.unique(val_y)) == 2 else float("nan")
        history.append(EpochLog(epoch, total_loss / len(train_y), val_loss, val_auc, float(lr),
                                time.perf_counter() - started))
        if best_state is None or val_auc > best_auc:
            best_auc, best_epoch, stale = val_auc, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        bar.set_postfix(loss=f"{history[-1].train_loss:.3f}", val_auc=f"{val_auc:.4f}", best=f"{best_auc:.4f}@{best_epoch}")
        if stale >= config.patience:
            break
    bar.close()
    return history, best_state, best_epoch


def _limit(split: Split, limit: int | None, seed: int) -> Split:
    """A seeded, class-stratified subset of ``limit`` images (the whole split for ``None``)."""
    if limit is None or limit >= len(split):
        return split
    return split.subset(stratified_sample(split.labels, int(limit), seed).indices)


def _versions() -> dict[str, str]:
    import timm
    import torch

    return {"torch": torch.__version__, "timm": timm.__version__}


# --------------------------------------------------------------------------- predictions


def predict_split(checkpoint: Checkpoint, split: str | Split = "test",
                  data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Predictions for every image of a split: ``index, label, prob_pneumonia, pred``."""
    split = load_split(split, 28, data_dir) if isinstance(split, str) else split
    device = str(next(checkpoint.model.parameters()).device)
    probs = model_probabilities(checkpoint.model, split.images, checkpoint.spec, device=device)
    return predictions_frame(split.indices, split.labels, probs, checkpoint.threshold)
