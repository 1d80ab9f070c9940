"""Batched tensor reductions for the hooks: a few kernels per step, no host sync.

On a CPU each per-tensor kernel costs microseconds of dispatch, which is what made a model with
hundreds of small parameters slow to instrument. Small tensors (of one device and dtype) are
therefore flattened into one buffer and reduced per segment in a handful of kernels; large ones
go through the foreach kernels, where dispatch is cheap next to the work, and are never copied
into a flat buffer (that would cost a second copy of the model's memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch._utils import _flatten_dense_tensors

SMALL = 1 << 16  # tensors with fewer elements than this are reduced together in one flat buffer
FLAT_MIN_COUNT = 32  # below this many small tensors, per-tensor kernels cost less than flattening


@dataclass
class _Split:
    """Where each tensor goes: the flat buffer (`small`) or the foreach path (`large`)."""

    small: list[int]
    large: list[int]
    lengths: torch.Tensor | None  # numel of each small tensor, on their device
    order: torch.Tensor | None  # puts [small..., large...] results back in the input order


Splits = dict[tuple[int, ...], "_Split"]


def _split(tensors: Sequence[torch.Tensor], cache: Splits | None, key: tuple[int, ...] | None
           ) -> _Split:
    """The split of these tensors, reused from `cache` under `key` when the caller knows the
    tensors have the same sizes as last time (a run's parameters by index, and their gradients:
    autograd keeps a `.grad` the size and dtype of its parameter)."""
    if cache is None or key is None:
        return _make_split(tensors)
    split = cache.get(key)
    if split is None:
        split = cache[key] = _make_split(tensors)
    return split


def _make_split(tensors: Sequence[torch.Tensor]) -> _Split:
    first = next((t for t in tensors if t.numel() < SMALL), None)
    small: list[int] = []
    large: list[int] = []
    for i, t in enumerate(tensors):
        fits = first is not None and t.numel() < SMALL and t.dtype == first.dtype \
            and t.device == first.device and t.layout == torch.strided
        (small if fits else large).append(i)
    if len(small) < FLAT_MIN_COUNT:
        small, large = [], list(range(len(tensors)))
    lengths = order = None
    if small:
        lengths = torch.tensor([tensors[i].numel() for i in small], device=first.device)  # type: ignore[union-attr]
    if small and large:
        position = torch.empty(len(tensors), dtype=torch.long)
        position[torch.tensor(small + large)] = torch.arange(len(tensors))
        order = position.to(first.device)  # type: ignore[union-attr]
    return _Split(small, large, lengths, order)


def _device(tensors: Sequence[torch.Tensor]) -> torch.device:
    return tensors[0].device if tensors else torch.device("cpu")


def _combine(split: _Split, small: torch.Tensor | None, large: list[torch.Tensor],
             device: torch.device) -> torch.Tensor:
    """One float32 vector in the input order from the flat results and the foreach results."""
    parts = [] if small is None else [small.to(torch.float32)]
    if large:
        same = all(v.dtype == torch.float32 and v.device == device for v in large)
        parts.append(torch.stack(large if same else
                                 [v.to(device=device, dtype=torch.float32) for v in large]))
    if not parts:
        return torch.zeros(0, device=device)
    out = parts[0] if len(parts) == 1 else torch.cat([p.to(device) for p in parts])
    return out if split.order is None else out.index_select(0, split.order)


def _segment_sum(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return torch.segment_reduce(values, "sum", lengths=lengths)


@torch.no_grad()
def norms(tensors: Sequence[torch.Tensor], cache: Splits | None = None,
          key: tuple[int, ...] | None = None) -> torch.Tensor:
    """L2 norm of each tensor, as one float32 vector."""
    return norms_and_nonzero(tensors, nonzero=False, cache=cache, key=key)[0]


@torch.no_grad()
def nonzero_counts(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Number of non-zero entries of each tensor."""
    return norms_and_nonzero(tensors)[1]  # type: ignore[return-value]


@torch.no_grad()
def norms_and_nonzero(tensors: Sequence[torch.Tensor], nonzero: bool = True,
                      cache: Splits | None = None, key: tuple[int, ...] | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Norm and non-zero count of each tensor, from one pass over the flat buffer."""
    device = _device(tensors)
    if not tensors:
        return torch.zeros(0), (torch.zeros(0) if nonzero else None)
    split = _split(tensors, cache, key)
    small_norm = small_nz = None
    if split.small:
        flat = _flatten_dense_tensors([tensors[i] for i in split.small]).to(torch.float32)
        small_norm = _segment_sum(flat * flat, split.lengths).sqrt()  # type: ignore[arg-type]
        if nonzero:
            # |sign| is 1 where non-zero: an elementwise kernel several times faster than ne().float()
            nonzero_mask = torch.nan_to_num(flat, nan=1.0).sign_().abs_()  # NaN counts as non-zero
            small_nz = _segment_sum(nonzero_mask, split.lengths)  # type: ignore[arg-type]
    large = [tensors[i] for i in split.large]
    norm = _combine(split, small_norm, list(torch._foreach_norm(large)) if large else [], device)
    if not nonzero:
        return norm, None
    counts = [torch.count_nonzero(t) for t in large]
    return norm, _combine(split, small_nz, counts, device)


@dataclass
class Copies:
    """The values of some tensors before `step()`: a flat buffer for the small ones, one copy
    each for the large ones. Together at most one copy of the parameters."""

    split: _Split | None = None
    flat: torch.Tensor | None = None
    large: list[torch.Tensor] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.split is not None


@torch.no_grad()
def copies(tensors: Sequence[torch.Tensor], cache: Splits | None = None,
           key: tuple[int, ...] | None = None) -> Copies:
    """Copies, so that an update can be measured after `step()` changed the originals."""
    if not tensors:
        return Copies()
    split = _split(tensors, cache, key)
    flat = None
    if split.small:  # one tensor "flattens" to a view of itself: copy it
        flat = _flatten_dense_tensors([tensors[i] for i in split.small])
        flat = flat.clone() if len(split.small) == 1 else flat
    large = list(torch._foreach_mul([tensors[i] for i in split.large], 1.0)) if split.large else []
    return Copies(split, flat, large)


@torch.no_grad()
def distances(after: Sequence[torch.Tensor], before: Copies) -> torch.Tensor:
    """||after - before|| per tensor; reuses the copies' memory."""
    split = before.split
    if split is None:
        return torch.zeros(0)
    small = None
    if before.flat is not None:
        delta = before.flat.sub_(_flatten_dense_tensors([after[i] for i in split.small]))
        delta = delta.to(torch.float32)
        small = _segment_sum(delta * delta, split.lengths).sqrt()  # type: ignore[arg-type]
    large: list[torch.Tensor] = []
    if before.large:
        torch._foreach_sub_(before.large, [after[i] for i in split.large])
        large = list(torch._foreach_norm(before.large))
    return _combine(split, small, large, _device(after))


def scalar(value: torch.Tensor) -> torch.Tensor | None:
    """A detached float32 copy of a one-element loss, None for other shapes."""
    if value.numel() != 1:
        return None
    return value.detach().reshape(()).to(torch.float32)


def fingerprint(value: torch.Tensor) -> torch.Tensor:
    """Sum, sum of squares and a position-weighted sum of a batch: equal for the same batch,
    different for another.

    The sums alone are equal for every batch of one-hot rows (one 1 per row) and for any batch
    that is a reordering of another; weighting each value by where it sits (sample and feature,
    with irregular weights) tells those apart, in one matrix-vector product over the batch.
    """
    if value.layout != torch.strided:  # sparse (graph features): its stored values, unweighted
        x = value.detach()
        stored = (x._values() if x.layout == torch.sparse_coo else x.values()).reshape(-1).float()
        return torch.stack([stored.sum(), stored.square().sum(), stored.sum()])
    flat = value.detach().reshape(-1).to(torch.float32)
    rows = value.shape[0] if value.dim() and value.shape[0] else 1
    grid = flat.reshape(rows, -1)
    golden = 0.6180339887  # multiples of an irrational number: weights that never repeat
    by_feature = torch.arange(grid.shape[1], device=flat.device, dtype=torch.float32)
    by_sample = torch.arange(rows, device=flat.device, dtype=torch.float32)
    placed = (grid @ (by_feature * golden % 1 + 0.5)) @ (by_sample * golden % 1 + 0.5)
    return torch.stack([flat.sum(), flat.square().sum(), placed])
