"""What the trainings share: a seeded subset of the training pairs, and the versions a record names."""

from __future__ import annotations

import importlib
import platform
from typing import TYPE_CHECKING

import numpy as np

from cxr_lib.data.cases import stratified_sample
from cxr_lib.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from cxr_lib.data.datasets import HRPairs


def limit_pairs(pairs: "HRPairs", limit: int | None, seed: int, stratified: bool) -> "HRPairs":
    """A seeded subset of ``limit`` pairs, in their order (all of them for ``None`` or ``limit`` ≥ their number).

    ``stratified`` keeps the class proportions (:func:`cxr_lib.data.cases.stratified_sample`, the
    reader's); otherwise the rows are a plain random choice (the super-resolver's). Each draw is the
    one its training has always made, so a recorded run is made again by the same call.
    """
    if limit is None or limit >= len(pairs):
        return pairs
    if limit < 1:
        raise ParameterError(f"a limit of {limit} pairs is not positive: give 1 or more")
    if stratified:
        return pairs.subset(list(stratified_sample(pairs.labels, int(limit), seed).indices))
    rows = np.sort(np.random.default_rng(seed).choice(len(pairs), size=int(limit), replace=False))
    return pairs.subset(rows)


def versions(*packages: str) -> dict[str, str]:
    """Python's version and each named package's ``__version__``, in the order given (for a training record)."""
    return {"python": platform.python_version(),
            **{name: str(importlib.import_module(name).__version__) for name in packages}}
