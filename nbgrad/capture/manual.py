"""Updates made without an optimizer: `with torch.no_grad(): p -= lr * p.grad`.

No hook fires for such an update, so the loop would look like "backward() but never a step". While
no optimizer has stepped, the tensors that a backward() reaches are copied right after it, and at
the next backward() they are compared with the copies: parameters that changed in between were
updated by the user's own code. Each such change is recorded as one manual step (gradients, norms and
update sizes, as for an optimizer step). Loops that use an optimizer pay for this once: the first
backward() comes before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nbgrad.capture import tensor_stats

MAX_GRAPH_NODES = 20_000  # a walk of the loss's graph stops here (the leaves found so far count)
MANUAL = -1  # RawStep.optimizer of a manual step


def graph_leaves(tensors: Any, limit: int = MAX_GRAPH_NODES) -> list[torch.Tensor]:
    """Leaf tensors that requires_grad and that a backward() from `tensors` accumulates into.

    Raw tensors (`w = torch.randn(3, requires_grad=True)`) are found this way: no module hook sees
    them.
    """
    roots = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    stack = [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    seen: set[int] = set()
    leaves: list[torch.Tensor] = []
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)  # an AccumulateGrad node
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(fn for fn, _ in node.next_functions if fn is not None)
    return leaves


@dataclass
class Snapshot:
    """The tensors right after a backward(): copies, norms and gradient norms (device values)."""

    tensors: list[torch.Tensor]
    copies: tensor_stats.Copies
    param_norms: tensor_stats.Vector
    with_grad: list[int]  # positions in `tensors` that had a gradient
    grad_norms: tensor_stats.Vector
    grad_nonzero: tensor_stats.Vector


@dataclass
class Moved:
    """A snapshot's numbers on the host, and how far each tensor moved since it was taken."""

    distances: list[float]
    param_norms: list[float]
    grad_norms: list[float]
    grad_nonzero: list[float]


class ManualTracker:
    """Finds parameter changes between backward() calls while no optimizer is in use."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self._leaves: list[torch.Tensor] = []
        self._leaf_ids: set[int] = set()

    def drop(self) -> None:
        """An optimizer stepped: its hooks see the updates from now on."""
        self.snapshot = None
        self._leaves = []
        self._leaf_ids = set()

    def note_graph(self, tensors: Any) -> None:
        """Before a backward(): remember which leaves it will reach (the graph is freed after it)."""
        for leaf in graph_leaves(tensors):
            if id(leaf) not in self._leaf_ids:
                self._leaf_ids.add(id(leaf))
                self._leaves.append(leaf)

    def tensors(self, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Every known parameter and graph leaf: what `take` copies."""
        known = {id(p) for p in params}
        return list(params) + [t for t in self._leaves if id(t) not in known]

    def take(self, tensors: list[torch.Tensor]) -> None:
        """After a backward(): copy `tensors` (see `tensors()`), measure their gradients."""
        with_grad = [i for i, t in enumerate(tensors) if t.grad is not None]
        grads = [tensors[i].grad for i in with_grad]
        norms, nonzero = tensor_stats.norms_and_nonzero(grads)  # type: ignore[arg-type]
        copies, param_norms = tensor_stats.copies(tensors)
        self.snapshot = Snapshot(tensors=tensors, copies=copies, param_norms=param_norms,
                                 with_grad=with_grad, grad_norms=norms, grad_nonzero=nonzero)  # type: ignore[arg-type]

    def changed(self) -> tuple[Snapshot, Moved] | None:
        """The last snapshot and how far each tensor moved since, when any moved (one transfer
        per device: whether to record an update is decided now, not after the run).

        Norms, not version counters, decide: `p.data -= ...` changes a parameter without bumping
        its version.
        """
        snap = self.snapshot
        if snap is None or not snap.tensors:
            return None
        distances = tensor_stats.distances(snap.tensors, snap.copies)  # reuses the copies' memory
        self.snapshot = None  # the next backward() takes a fresh one
        batch = tensor_stats.HostBatch()
        batch.add_all([distances, snap.param_norms, snap.grad_norms, snap.grad_nonzero])
        batch.fetch()
        moved = Moved(*(batch.get(v) or [] for v in (distances, snap.param_norms, snap.grad_norms,
                                                       snap.grad_nonzero)))
        if not any(d > 0 for d in moved.distances):
            return None
        return snap, moved
