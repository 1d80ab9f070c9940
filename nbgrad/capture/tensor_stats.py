"""Batched tensor reductions for the hooks: few kernels per step, no host sync, no cross-device copy.

The work is shaped by the device it runs on:
- on an accelerator the foreach kernels (`torch._foreach_norm`, `_foreach_sub_`) reduce a whole list
  of tensors in a few launches and need no extra copy;
- on a CPU every per-tensor kernel costs microseconds of dispatch, which is what made a model with
  hundreds of small parameters slow to instrument. Small tensors of one shape (the biases and norm
  weights of repeated blocks) are stacked and reduced along the rows of the stack in one kernel;
  large ones go through foreach, where dispatch is cheap next to the work.

Results stay on their own device, one float32 vector per group (`Vector`), and reach the host once,
after the run (`HostBatch`). Sparse tensors (an Embedding's sparse gradient) are reduced from their
stored values; complex ones by their modulus, never cast to real.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import torch

SMALL = 1 << 16  # CPU tensors with fewer elements than this are stacked with others of their shape
STACK_MIN = 8  # ... when at least this many share it (below, foreach's per-tensor loop is cheaper)
STACK_BYTES = 4 << 20  # a stack made only to be reduced is built this many bytes at a time
PIECE = 1 << 20  # elements per piece when a large tensor is reduced piece by piece (4 MB float32)
_LOW = (torch.float16, torch.bfloat16)


# -- where each tensor goes ----------------------------------------------------------------------
@dataclass
class _Group:
    positions: list[int]
    kind: str  # "stack" (CPU, one shape), "each" (foreach, one device and dtype), "sparse"


@dataclass
class Layout:
    """How a list of tensors is reduced: which go stacked, which through foreach, which are sparse."""

    size: int
    groups: list[_Group]
    in_order: bool = False  # one group holding every tensor in list order


Layouts = dict[Hashable, Layout]


def layout(tensors: Sequence[torch.Tensor], cache: Layouts | None = None,
           key: Hashable | None = None) -> Layout:
    """The layout of these tensors, reused from `cache` under `key` when the caller knows they are
    the same tensors as last time (a run's parameters by index, or their gradients)."""
    if cache is None or key is None:
        return _make_layout(tensors)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _make_layout(tensors)
    return found


def _make_layout(tensors: Sequence[torch.Tensor]) -> Layout:
    stacks: dict[tuple[torch.dtype, torch.Size], list[int]] = {}
    each: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    sparse: list[int] = []
    for i, t in enumerate(tensors):
        if t.layout != torch.strided:
            sparse.append(i)
        elif (t.device.type == "cpu" and t.numel() < SMALL and t.is_floating_point()):
            stacks.setdefault((t.dtype, t.shape), []).append(i)
        else:
            each.setdefault((t.device, t.dtype), []).append(i)
    groups = []
    for (dtype, _), positions in stacks.items():
        if len(positions) >= STACK_MIN:
            groups.append(_Group(positions, "stack"))
        else:
            each.setdefault((torch.device("cpu"), dtype), []).extend(positions)
    groups += [_Group(sorted(p), "each") for p in each.values()]
    if sparse:
        groups.append(_Group(sparse, "sparse"))
    in_order = len(groups) == 1 and groups[0].positions == list(range(len(tensors)))
    return Layout(len(tensors), groups, in_order)


# -- results -------------------------------------------------------------------------------------
class Vector:
    """One number per tensor of a list, as float32 vectors on the tensors' own devices."""

    __slots__ = ("parts", "size")

    def __init__(self, size: int, parts: list[tuple[list[int] | None, torch.Tensor]]) -> None:
        self.size = size
        self.parts = parts  # (positions in the list, None: all in order; values)

    def __len__(self) -> int:
        return self.size

    def place(self, values: Sequence[list[float]]) -> list[float]:
        """The numbers in list order, from the host copies of `parts` (same order)."""
        out = [math.nan] * self.size
        for (positions, _), got in zip(self.parts, values):
            if positions is None:
                return list(got)
            for p, v in zip(positions, got):
                out[p] = v
        return out

    def tolist(self) -> list[float]:
        """To the host (one transfer per part): for tests and small one-off uses."""
        return self.place([v.tolist() for _, v in self.parts])


def _vector(plan: Layout, parts: list[tuple[list[int], torch.Tensor]]) -> Vector:
    if plan.in_order:
        return Vector(plan.size, [(None, parts[0][1])])
    return Vector(plan.size, list(parts))


EMPTY = Vector(0, [])


class HostBatch:
    """Device values pulled to the host together after the run: one transfer per device.

    Everything is `add`ed first, then `fetch` concatenates it per device (in float64, so counts and
    float32 values arrive exactly) and copies it once; `get` then reads the numbers of anything
    added. Values already on the host (plain lists) pass through.
    """

    def __init__(self) -> None:
        self._items: list[torch.Tensor] = []
        self._index: dict[int, int] = {}
        self._host: list[list[float]] = []

    def add(self, value: torch.Tensor | Vector | list[float] | None) -> None:
        if isinstance(value, Vector):
            for _, part in value.parts:
                self.add(part)
        elif isinstance(value, torch.Tensor) and id(value) not in self._index:
            self._index[id(value)] = len(self._items)
            self._items.append(value)

    def add_all(self, values: Sequence[torch.Tensor | Vector | list[float] | None]) -> None:
        for value in values:
            self.add(value)

    def fetch(self) -> None:
        by_device: dict[torch.device, dict[torch.dtype, list[int]]] = {}
        for i, t in enumerate(self._items):
            by_device.setdefault(t.device, {}).setdefault(t.dtype, []).append(i)
        host: list[list[float]] = [[] for _ in self._items]
        for device, by_dtype in by_device.items():
            wide = torch.float32 if device.type == "mps" else torch.float64
            flat = torch.cat([torch.cat([_real(self._items[i].detach()).reshape(-1) for i in same])
                              .to(wide) for same in by_dtype.values()])
            values = flat.tolist()  # the one transfer for this device
            start = 0
            for i in (i for same in by_dtype.values() for i in same):
                n = self._items[i].numel()
                host[i] = values[start:start + n]
                start += n
        self._host = host

    @overload
    def get(self, value: torch.Tensor | Vector | list[float]) -> list[float]: ...

    @overload
    def get(self, value: torch.Tensor | Vector | list[float] | None) -> list[float] | None: ...

    def get(self, value: torch.Tensor | Vector | list[float] | None) -> list[float] | None:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, Vector):
            return value.place([self._host[self._index[id(v)]] for _, v in value.parts])
        return self._host[self._index[id(value)]]

    def scalar(self, value: torch.Tensor | None) -> float | None:
        got = self.get(value)
        return None if not got else got[0]


def _real(t: torch.Tensor) -> torch.Tensor:
    return t.abs() if t.is_complex() else t


# -- reductions ----------------------------------------------------------------------------------
def _values(t: torch.Tensor) -> torch.Tensor:
    """The stored values of a sparse tensor (coalesced, so repeated indices count once)."""
    if t.layout == torch.sparse_coo:
        return (t if t.is_coalesced() else t.coalesce())._values()
    return t.values()


def _norm(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """L2 norm in float32, accumulated in float32 at least (half-precision inputs too)."""
    if x.dtype in _LOW:
        out = torch.linalg.vector_norm(x, dim=dim, dtype=torch.float32)
    else:
        out = torch.linalg.vector_norm(x, dim=dim)
    return out if out.dtype == torch.float32 else out.float()


def _foreach_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    if tensors[0].dtype in _LOW:
        out = torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float32))
    else:
        out = torch.stack(torch._foreach_norm(tensors))
    return out if out.dtype == torch.float32 else out.float()


def _rows(tensors: list[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
    """Runs of same-shape tensors whose stack stays under STACK_BYTES."""
    step = max(1, STACK_BYTES // max(tensors[0].numel() * tensors[0].element_size(), 1))
    for start in range(0, len(tensors), step):
        yield tensors[start:start + step]


def _group_stats(group: _Group, tensors: Sequence[torch.Tensor], nonzero: bool
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    ts = [tensors[i] for i in group.positions]
    if group.kind == "stack":
        norms, counts = [], []
        for run in _rows(ts):
            flat = torch.stack(run).reshape(len(run), -1)  # 0-d tensors (a scalar bias) too
            norms.append(_norm(flat, dim=1))
            if nonzero:
                counts.append(torch.count_nonzero(flat, dim=1))
        norm = norms[0] if len(norms) == 1 else torch.cat(norms)
        return norm, (torch.cat(counts).float() if nonzero else None)
    if group.kind == "sparse":
        values = [_values(t) for t in ts]
        norm = torch.stack([_norm(v) for v in values])
        count = torch.stack([torch.count_nonzero(v) for v in values]).float() if nonzero else None
        return norm, count
    count = torch.stack([torch.count_nonzero(t) for t in ts]).float() if nonzero else None
    return _foreach_norms(ts), count


@torch.no_grad()
def norms(tensors: Sequence[torch.Tensor], cache: Layouts | None = None,
          key: Hashable | None = None) -> Vector:
    """L2 norm of each tensor."""
    return norms_and_nonzero(tensors, nonzero=False, cache=cache, key=key)[0]


@torch.no_grad()
def norms_and_nonzero(tensors: Sequence[torch.Tensor], nonzero: bool = True,
                      cache: Layouts | None = None, key: Hashable | None = None
                      ) -> tuple[Vector, Vector | None]:
    """Norm and (when asked) number of non-zero entries of each tensor; NaN counts as non-zero."""
    if not tensors:
        return EMPTY, (EMPTY if nonzero else None)
    plan = layout(tensors, cache, key)
    norm_parts, count_parts = [], []
    for group in plan.groups:
        norm, count = _group_stats(group, tensors, nonzero)
        norm_parts.append((group.positions, norm))
        if count is not None:
            count_parts.append((group.positions, count))
    return (_vector(plan, norm_parts),
            _vector(plan, count_parts) if nonzero else None)


# -- copies for update sizes ---------------------------------------------------------------------
@dataclass
class Copies:
    """The values of some tensors before `step()`: one stack per stacked group, one copy per
    tensor otherwise. Together one copy of the tensors, never more."""

    layout: Layout | None = None
    groups: list[torch.Tensor | list[torch.Tensor]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.layout is not None


def copy_bytes(tensors: Sequence[torch.Tensor]) -> dict[torch.device, int]:
    """Bytes that `copies` allocates for these tensors, per device."""
    out: dict[torch.device, int] = {}
    for t in tensors:
        if t.layout == torch.sparse_coo:
            t = t._values()  # as stored, not coalesced: no work, and never less than the copy
        elif t.layout != torch.strided:
            t = t.values()
        out[t.device] = out.get(t.device, 0) + t.numel() * t.element_size()
    return out


@torch.no_grad()
def copies(tensors: Sequence[torch.Tensor], cache: Layouts | None = None,
           key: Hashable | None = None, reuse: Copies | None = None) -> tuple[Copies, Vector]:
    """Copies, so that an update can be measured after `step()` changed the originals, and the
    norm of each tensor, read from the copy. `reuse`: the copies of the same tensors at an
    earlier step, written over instead of allocating anew (allocating is most of a small copy's
    cost on a CPU)."""
    if not tensors:
        return Copies(), EMPTY
    plan = layout(tensors, cache, key)
    old = reuse.groups if reuse is not None and reuse.layout is plan else None
    kept: list[torch.Tensor | list[torch.Tensor]] = []
    parts = []
    for index, group in enumerate(plan.groups):
        ts = [tensors[i] for i in group.positions]
        into = None if old is None else old[index]
        if group.kind == "stack":
            stack = torch.stack(ts, out=into) if isinstance(into, torch.Tensor) else torch.stack(ts)
            kept.append(stack)
            parts.append((group.positions, _norm(stack.reshape(len(ts), -1), dim=1)))
        elif group.kind == "sparse":
            clones = [t.detach().clone() for t in ts]
            kept.append(clones)
            parts.append((group.positions, torch.stack([_norm(_values(c)) for c in clones])))
        else:
            if isinstance(into, list):
                clones = into
                torch._foreach_copy_(clones, ts)
            else:
                clones = list(torch._foreach_mul(ts, 1))
            kept.append(clones)
            parts.append((group.positions, _foreach_norms(clones)))
    return Copies(plan, kept), _vector(plan, parts)


@torch.no_grad()
def distances(after: Sequence[torch.Tensor], before: Copies) -> Vector:
    """||after - before|| per tensor; works in the copies' own memory."""
    plan = before.layout
    if plan is None:
        return EMPTY
    parts = []
    for group, kept in zip(plan.groups, before.groups):
        ts = [after[i] for i in group.positions]
        if group.kind == "stack":
            assert isinstance(kept, torch.Tensor)
            norms, start = [], 0
            for run in _rows(ts):
                rows = kept[start:start + len(run)]
                rows.sub_(torch.stack(run))
                norms.append(_norm(rows.reshape(len(rows), -1), dim=1))
                start += len(run)
            parts.append((group.positions, norms[0] if len(norms) == 1 else torch.cat(norms)))
        elif group.kind == "sparse":
            assert isinstance(kept, list)
            moved = [_norm(_values((a - b).coalesce())) if a.layout == torch.sparse_coo
                     else _norm((a - b).to_dense()) for a, b in zip(ts, kept)]
            parts.append((group.positions, torch.stack(moved)))
        else:
            assert isinstance(kept, list)
            torch._foreach_sub_(kept, ts)
            parts.append((group.positions, _foreach_norms(kept)))
    return _vector(plan, parts)


# -- single values -------------------------------------------------------------------------------
def scalar(value: torch.Tensor) -> torch.Tensor | None:
    """A detached float32 copy of a one-element loss, None for other shapes."""
    if value.numel() != 1:
        return None
    return _real(value.detach().reshape(())).to(torch.float32)


def pieces(x: torch.Tensor, limit: int = PIECE) -> Iterator[torch.Tensor]:
    """Views of `x` of at most `limit` elements that together hold each element once, so that a
    reduction that needs a temporary (a float32 copy, a mask) needs it only piece by piece."""
    if x.numel() <= limit or x.dim() == 0:
        yield x
    elif x.is_contiguous():
        flat = x.view(-1)
        for start in range(0, flat.numel(), limit):
            yield flat[start:start + limit]
    elif x.shape[0] == 1:
        yield from pieces(x[0], limit)
    else:
        rows = max(1, limit // max(x[0].numel(), 1))
        for part in x.split(rows):
            yield from pieces(part, limit)


def fingerprint(value: torch.Tensor) -> torch.Tensor:
    """Sum, sum of squares and a position-weighted sum of a batch: equal for the same batch,
    different for another.

    The sums alone are equal for every batch of one-hot rows (one 1 per row) and for any batch
    that is a reordering of another; weighting each value by where it sits (a weight per feature
    times a weight per sample, both irregular) tells those apart, in one matrix-vector product.
    A sample of more than PIECE values is not weighted (its third number is the plain sum): its
    batch is reduced piece by piece, and a reordering of such samples is not told apart.
    """
    x = value.detach()
    if x.layout != torch.strided:
        x = _values(x)
    if x.is_complex():
        x = torch.view_as_real(x)
    rows = x.shape[0] if x.dim() > 1 and x.shape[0] else 1
    if x.dtype == torch.float32 and x.numel() <= PIECE:  # the common case, without pieces
        grid = x.reshape(rows, -1)
        return torch.stack([grid.sum(), grid.square().sum(), _placed(grid, 0)])
    sums: tuple[torch.Tensor, torch.Tensor] | None = None
    for piece in pieces(x):
        if piece.dtype != torch.float32:
            piece = piece.float()
        s, q = piece.sum(), piece.square().sum()  # pairwise sums: exact enough at any size
        sums = (s, q) if sums is None else (sums[0] + s, sums[1] + q)
    if sums is None:
        return torch.zeros(3)
    total, square = sums
    sample = x.numel() // rows
    if sample > PIECE or sample == 0:
        return torch.stack([total, square, total])
    placed, first = torch.zeros((), device=x.device), 0
    for part in x.reshape(rows, -1).split(max(1, PIECE // sample)):
        placed = placed + _placed(part.float(), first)
        first += part.shape[0]
    return torch.stack([total, square, placed])


def _placed(grid: torch.Tensor, first: int) -> torch.Tensor:
    """Sum of the (samples, features) `grid` weighted by frac(k * golden ratio) + 1/2 per feature
    k and per sample (counted from `first`): multiples of an irrational number never repeat, and
    a product of two such weights does not let a swap of two samples or two features cancel."""
    golden = 0.6180339887498949

    def weights(start: int, count: int) -> torch.Tensor:
        k = grid.new_ones(count, dtype=torch.float64).cumsum(0) + (start - 1)  # start, start + 1, ..
        return ((k * golden) % 1 + 0.5).to(torch.float32)

    return (grid @ weights(0, grid.shape[1])) @ weights(first, grid.shape[0])
