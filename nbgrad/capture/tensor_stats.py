"""Batched tensor reductions for the hooks: a few foreach kernels per step, no host sync."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _stack(values: Sequence[torch.Tensor]) -> torch.Tensor:
    """One float32 vector on the first value's device (norms of mixed dtypes stack after casting)."""
    if not values:
        return torch.zeros(0)
    device = values[0].device
    return torch.stack([v.to(device=device, dtype=torch.float32) for v in values])


def norms(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """L2 norm of each tensor, as one vector."""
    if not tensors:
        return torch.zeros(0)
    return _stack(torch._foreach_norm([t.detach() for t in tensors]))


def nonzero_counts(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Number of non-zero entries of each tensor: the L1 norm of sign(|t|)."""
    if not tensors:
        return torch.zeros(0)
    signs = torch._foreach_abs(torch._foreach_sign([t.detach() for t in tensors]))
    return _stack(torch._foreach_norm(signs, 1))


def copies(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Detached copies, so that an update can be measured after `step()` changed the originals."""
    if not tensors:
        return []
    return list(torch._foreach_mul([t.detach() for t in tensors], 1.0))


def distances(after: Sequence[torch.Tensor], before: list[torch.Tensor]) -> torch.Tensor:
    """||after - before|| per tensor; reuses `before`'s memory."""
    if not before:
        return torch.zeros(0)
    torch._foreach_sub_(before, [t.detach() for t in after])
    return norms(before)


def scalar(value: torch.Tensor) -> torch.Tensor | None:
    """A detached float32 copy of a one-element loss, None for other shapes."""
    if value.numel() != 1:
        return None
    return value.detach().reshape(()).to(torch.float32)


def fingerprint(value: torch.Tensor) -> torch.Tensor:
    """Sum and sum of squares of a batch: equal for the same batch, different for another."""
    flat = value.detach().reshape(-1).to(torch.float32)
    return torch.stack([flat.sum(), flat.square().sum()])
