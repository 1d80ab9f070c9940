"""The batched reductions equal per-tensor torch on both paths (flat buffer and foreach)."""

from __future__ import annotations

import pytest
import torch

from nbgrad.capture import tensor_stats


@pytest.mark.parametrize("count", [3, tensor_stats.FLAT_MIN_COUNT + 5])
def test_norms_counts_and_distances_match_per_tensor_torch(count):
    torch.manual_seed(0)
    tensors = [torch.randn(3, 4) * (torch.rand(3, 4) > 0.5) for _ in range(count)]
    tensors += [torch.randn(tensor_stats.SMALL + 1), torch.randn(5, dtype=torch.float64)]
    norms, nonzero = tensor_stats.norms_and_nonzero(tensors)
    assert norms.tolist() == pytest.approx([t.norm().item() for t in tensors], rel=1e-5)
    assert nonzero.tolist() == [float((t != 0).sum()) for t in tensors]
    before = tensor_stats.copies(tensors)
    for i, t in enumerate(tensors):
        t.add_(float(i))
    moved = tensor_stats.distances(tensors, before)
    assert moved.tolist() == pytest.approx([i * t.numel() ** 0.5 for i, t in enumerate(tensors)],
                                           rel=1e-4)


def test_nan_and_inf_count_as_non_zero_and_a_single_copy_is_a_copy():
    flat = [torch.tensor([float("nan"), 0.0, float("-inf")])] * (tensor_stats.FLAT_MIN_COUNT + 1)
    _, nonzero = tensor_stats.norms_and_nonzero(flat)
    assert set(nonzero.tolist()) == {2.0}
    one = [torch.ones(3)]
    before = tensor_stats.copies(one)
    one[0].mul_(3)
    assert tensor_stats.distances(one, before).tolist() == pytest.approx([2 * 3 ** 0.5])
