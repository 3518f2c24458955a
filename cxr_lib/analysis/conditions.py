"""The images each study condition shows: a split's images through an upscaler, or the real image.

A condition (:data:`cxr_lib.models.upscale.CONDITIONS`) is an upscaler's name or ``hr``, the real
224×224 image of the control arm. :func:`condition_images` picks a split's images by index and hands
them to :mod:`cxr_lib.models.upscale` (images in, images out); :func:`upscale_index` does it for one
image from the data folder, for ``cxr upscale``, and :func:`save_case` writes it with what made it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cxr_lib.data.datasets import HRReference, Split, load_hr_reference, load_split
from cxr_lib.errors import UpscaleError
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.upscale import (
    CONDITIONS,
    DEFAULT_FINAL_RESIZE,
    SuperResolver,
    check_final_resize,
    check_method,
    model_for,
    resize,
    save_image,
    upscale_batch,
)


def condition_images(
    split: Split,
    indices: Sequence[int],
    condition: str,
    size: int = 224,
    *,
    hr: HRReference | None = None,
    sr_model: SuperResolver | None = None,
    rgb: bool = False,
    final_resize: str = DEFAULT_FINAL_RESIZE,
    batch_size: int = 8,
) -> list[np.ndarray]:
    """The images a VLM is shown for ``condition`` (see :data:`CONDITIONS`) at the given split indices.

    ``hr`` gives the real 224×224 image (resized with ``final_resize`` when ``size`` is not 224)
    and raises :class:`~cxr_lib.errors.HRUnavailableError` for an index without one; every other
    condition upscales the split's images.
    """
    check_method(condition, CONDITIONS)
    if condition == "hr":
        reference = hr if hr is not None else load_hr_reference()
        return [resize(reference.image(i), size, final_resize, rgb) for i in indices]
    return upscale_batch([split.image(i) for i in indices], condition, size, sr_model=sr_model,
                         batch_size=batch_size, rgb=rgb, final_resize=final_resize)



@dataclass
class UpscaledCase:
    """One test image shown under one condition, with what made it."""

    index: int
    condition: str
    image: np.ndarray
    model_id: str = ""
    revision: str = ""
    is_stand_in: bool = False

    def describe(self) -> str:
        """One line for the console: what the image is and which model made it."""
        side = f"{self.image.shape[0]}×{self.image.shape[1]}"
        made = f", model {self.model_id} (revision {self.revision or 'unknown'})" if self.model_id else ""
        return f"test index {self.index}, {self.condition}, {side}{made}"


def upscale_index(
    index: int,
    condition: str,
    size: int = 224,
    *,
    split: str = "test",
    model: str | None = None,
    rgb: bool = False,
    final_resize: str = DEFAULT_FINAL_RESIZE,
    data_dir: str | os.PathLike | None = None,
) -> UpscaledCase:
    """Load one image of a split and show it under ``condition`` (``model``: the upscaler's model, else its default)."""
    check_method(condition, CONDITIONS)
    check_final_resize(final_resize)
    data = load_split(split, data_dir=data_dir)
    data.position(index)
    if condition == "hr" and split != "test":
        raise UpscaleError(f"the high-resolution reference covers the test split only, not {split!r}: use --split test")
    resolver = None if condition == "hr" else model_for(condition, model)
    hr = load_hr_reference(data_dir) if condition == "hr" else None
    image = condition_images(data, [index], condition, size, hr=hr, sr_model=resolver, rgb=rgb,
                             final_resize=final_resize)[0]
    if resolver is None:
        return UpscaledCase(int(index), condition, image)
    return UpscaledCase(int(index), condition, image, resolver.model_id, resolver.revision or "", resolver.is_stand_in)



def save_case(case: UpscaledCase, path: str | os.PathLike) -> Path:
    """Save an :class:`UpscaledCase` image; a PNG records index, condition, model and any stand-in label."""
    text = {"cxr:index": str(case.index), "cxr:condition": case.condition,
            "cxr:model": case.model_id, "cxr:revision": case.revision}
    if case.is_stand_in:
        text["cxr:stand_in"] = STAND_IN_LABEL
    return save_image(case.image, path, text)
