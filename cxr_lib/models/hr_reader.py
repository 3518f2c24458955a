"""A high-resolution reader: a CNN for real 112×112 X-rays, to be shown upscaled 28×28 ones.

This is a measurable proxy for MedGemma's situation — a model that learned what pneumonia looks
like on full-resolution chest X-rays, then shown a 28×28 image enlarged by an upscaler. The reader
is a small ResNet (``timm``, one input channel, from scratch, :data:`PRESETS`); its input step and
threshold rule are the CNN baseline's (:mod:`cxr_lib.models.cnn`), at 112×112.

This module is the reader itself: its presets, its network, and its checkpoint — a folder with
``model.safetensors`` (never unpickled) and :data:`RECORD_FILE` (preset, model, threshold, data,
overlap check, history, versions, time). It is trained and selected on the val originals by
:mod:`cxr_lib.training.hr_reader`; what it is shown, its predictions and the tables comparing
inputs are :mod:`cxr_lib.analysis.reader`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from cxr_lib.data.artifacts import locate
from cxr_lib.errors import CheckpointError, ParameterError
from cxr_lib.models.cnn import ModelSpec, Preset, _timm_kwargs, model_probabilities
from cxr_lib.storage import atomic_write_bytes, atomic_write_json, ensure_writable_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch

WEIGHTS_FILE = "model.safetensors"
RECORD_FILE = "reader.json"
RECORD_FORMAT = "cxr-hr-reader/1"
METADATA_KEY = "cxr_hr_reader"
#: Side of every image the reader sees.
READER_SIZE = 112

PRESETS: dict[str, Preset] = {
    "cpu": Preset(
        name="cpu",
        model_name="resnet18",
        input_size=READER_SIZE,
        pretrained=False,
        description=("ResNet-18 (timm resnet18) at a quarter of its width (16-32-64-128 channels), one input "
                     "channel, at 112×112, trained from scratch on the real originals"),
        model_kwargs={"channels": (16, 32, 64, 128)},
        epochs=14,
        patience=5,
        batch_size=64,
        lr=2e-3,
        weight_decay=0.05,
    ),
}


def get_preset(name: str) -> Preset:
    """The reader preset called ``name`` (raises :class:`ParameterError` for an unknown one)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown reader preset {name!r}: expected one of {', '.join(PRESETS)}") from None


def build_model(spec: ModelSpec) -> "torch.nn.Module":
    """A timm network for one-channel 112×112 input and two classes, randomly initialised."""
    import timm


    return timm.create_model(spec.model_name, pretrained=False, in_chans=spec.in_chans, num_classes=spec.num_classes,
                             **_timm_kwargs(spec.model_kwargs))


# --------------------------------------------------------------------------- checkpoints


@dataclass
class Reader:
    """A loaded reader: the network in evaluation mode, its spec, its val threshold and its record."""

    path: Path
    spec: ModelSpec
    threshold: float
    record: dict[str, Any]
    model: "torch.nn.Module"

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """P(pneumonia) for uint8 112×112 grayscale images."""

        stack = np.stack([np.asarray(image) for image in images]) if len(images) else np.zeros((0, READER_SIZE, READER_SIZE), np.uint8)
        if stack.shape[1:] != (READER_SIZE, READER_SIZE):
            raise ParameterError(f"the reader reads {READER_SIZE}×{READER_SIZE} grayscale images, not {stack.shape[1:]}")
        return model_probabilities(self.model, stack, self.spec)

    def describe(self) -> str:
        """One line: the network, its size and its threshold."""
        return f"{self.spec.model_name} at {self.spec.input_size}×{self.spec.input_size}, threshold {self.threshold:.4f}"

    def describe_markdown(self) -> str:
        """A paragraph for a page: what the reader is, how it was trained and selected, on which images."""
        record = self.record
        data, val = record.get("data", {}), record.get("metrics", {}).get("val", {})
        overlap = data.get("test_overlap", {}).get("summary", "not recorded")
        auc = val.get("auc", {}).get("value", float("nan"))
        return (f"**The reader**: {record.get('description', self.describe())} "
                f"({record.get('parameters', 0) / 1e6:.2f} M parameters), trained in "
                f"{record.get('training', {}).get('train_seconds', float('nan')):.0f} s on the CPU on "
                f"{data.get('train_images', '?')} real train originals; epoch {record.get('best_epoch', '?')} of "
                f"{record.get('epochs_run', '?')} kept for its AUC on {data.get('val_images', '?')} val originals "
                f"({auc:.3f}), threshold {self.threshold:.3f} chosen there ({record.get('threshold_rule', '')}). "
                f"Against the test split: {overlap}.")


def save_reader(model: "torch.nn.Module", spec: ModelSpec, record: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` (one metadata entry: the same bytes for the same weights) and the record."""
    from safetensors.torch import save


    folder = ensure_writable_dir(folder)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    about = json.dumps({"format": RECORD_FORMAT, "model_name": spec.model_name, "input_size": spec.input_size}, sort_keys=True)
    atomic_write_bytes(folder / WEIGHTS_FILE, save(tensors, metadata={METADATA_KEY: about}))
    atomic_write_json(folder / RECORD_FILE, {"format": RECORD_FORMAT, **asdict(spec), **record})
    return folder


def load_reader(folder: str | os.PathLike) -> Reader:
    """Load a reader folder (safetensors only) and check that its weights fit the model its record names."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = locate(folder)
    hint = "train one with `cxr reader train --preset cpu --out DIR`"
    missing = [name for name in (RECORD_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        raise CheckpointError(f"reader folder {folder} is missing or incomplete (no {' or '.join(missing) or 'folder'}): {hint}")
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / RECORD_FILE} is not readable JSON ({type(exc).__name__}): {hint}") from None
    required = ("model_name", "input_size", "model_kwargs", "mean", "std", "threshold")
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or any(k not in record for k in required):
        raise CheckpointError(f"{folder / RECORD_FILE} is not a {RECORD_FORMAT} record: {hint}")
    spec = ModelSpec(str(record.get("preset", "")), str(record["model_name"]), int(record["input_size"]),
                     dict(record["model_kwargs"]), float(record["mean"]), float(record["std"]),
                     int(record.get("in_chans", 1)), int(record.get("num_classes", 2)))
    try:
        with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{folder / WEIGHTS_FILE} is not a readable safetensors file ({type(exc).__name__}): "
                              f"the reader is damaged; {hint}") from None
    if METADATA_KEY not in metadata:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} was not written by `cxr reader train`: {hint}")
    model = build_model(spec)
    expected = model.state_dict()
    if set(state) != set(expected) or any(tuple(state[k].shape) != tuple(expected[k].shape) for k in state):
        raise CheckpointError(f"the weights in {folder / WEIGHTS_FILE} do not fit {spec.model_name} as {RECORD_FILE} "
                              f"describes it: the folder mixes two readers; {hint}")
    model.load_state_dict(state, strict=True)
    model.eval()
    return Reader(folder, spec, float(record["threshold"]), record, model)
