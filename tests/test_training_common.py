"""What the trainings share: the seeded subsets of the pairs (stratified for the reader, plain for the
super-resolver) and the versions a training record names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxr_lib.data.datasets import HRPairs
from cxr_lib.errors import ParameterError
from cxr_lib.training.common import limit_pairs, versions


def pairs(n_normal: int = 30, n_pneumonia: int = 90) -> HRPairs:
    """Synthetic pairs, a quarter of them normal, each low image holding its row number."""
    n = n_normal + n_pneumonia
    labels = np.array([0] * n_normal + [1] * n_pneumonia, dtype=np.int64)
    low = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 28, axis=1).repeat(28, axis=2)
    return HRPairs("train", low, np.zeros((n, 112, 112), np.uint8), labels, np.arange(100, 100 + n, dtype=np.int64),
                   np.array([f"p{i}.jpeg" for i in range(n)]), Path("pairs.npz"))


@pytest.mark.parametrize("stratified", [True, False])
def test_a_limit_is_a_seeded_subset_in_order(stratified: bool) -> None:
    full = pairs()
    a = limit_pairs(full, 40, seed=3, stratified=stratified)
    assert len(a) == 40 and list(a.indices) == sorted(a.indices) and set(a.indices) <= set(full.indices)
    assert np.array_equal(a.low[:, 0, 0], a.indices - 100)  # rows kept together
    assert np.array_equal(limit_pairs(full, 40, seed=3, stratified=stratified).indices, a.indices)
    assert not np.array_equal(limit_pairs(full, 40, seed=4, stratified=stratified).indices, a.indices)
    assert limit_pairs(full, None, 0, stratified) is full and limit_pairs(full, 500, 0, stratified) is full
    with pytest.raises(ParameterError, match="not positive"):
        limit_pairs(full, 0, 0, stratified)


def test_the_stratified_subset_keeps_the_class_shares() -> None:
    full = pairs()
    assert int((limit_pairs(full, 40, seed=5, stratified=True).labels == 0).sum()) == 10
    plain = [int((limit_pairs(full, 40, seed=s, stratified=False).labels == 0).sum()) for s in range(20)]
    assert len(set(plain)) > 1  # a plain draw does not fix them


def test_versions_name_python_then_each_package_in_order() -> None:
    found = versions("numpy", "pandas")
    assert list(found) == ["python", "numpy", "pandas"] and found["numpy"] == np.__version__
