"""Updates made without an optimizer: `with torch.no_grad(): p -= lr * p.grad`.

No hook fires for such an update, so the loop would look like "backward() but never a step". While
no optimizer has stepped, the tensors that a backward() reaches are copied right after it, and at
the next backward() they are compared with the copies: parameters that changed in between were
updated by the user's own code. Each such change is recorded as one manual step (gradients, norms and
update sizes, as for an optimizer step). Loops that use an optimizer pay for this once: the first
backward() comes before the first step.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nbgrad.capture import budget, tensor_stats
from nbgrad.capture.events import EventLog
from nbgrad.capture.steps import MANUAL, RawStep, gather_steps
from nbgrad.capture.watcher import Gaps, Known, Watcher, Window

__all__ = ["MANUAL", "ManualTracker", "ManualUpdates", "graph_leaves"]

MAX_GRAPH_NODES = 20_000  # a walk of the loss's graph stops here (the leaves found so far count)


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
        grads = [g for g in (tensors[i].grad for i in with_grad) if g is not None]
        norms, nonzero = tensor_stats.norms_and_nonzero(grads)
        assert nonzero is not None  # asked for
        copies, param_norms = tensor_stats.copies(tensors)
        self.snapshot = Snapshot(tensors=tensors, copies=copies, param_norms=param_norms,
                                 with_grad=with_grad, grad_norms=norms, grad_nonzero=nonzero)

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


class ManualUpdates(Watcher):
    """Records each update found by the `ManualTracker` as a step, while no optimizer stepped."""

    def __init__(self, known: Known, window: Window, events: EventLog,
                 copy_budget: budget.CopyBudget, gaps: Gaps, steps_requested: int) -> None:
        self.known = known
        self.window = window
        self.events = events
        self.copy_budget = copy_budget
        self.gaps = gaps
        self.steps_requested = steps_requested
        self.tracker = ManualTracker()
        self.steps: list[RawStep] = []
        self._refusal: str | None = None

    def on_backward(self, tensors: Any) -> None:
        if not self.known.optimizers:
            self._check()
            self.tracker.note_graph(tensors)

    def after_backward(self) -> None:
        if not self.window.in_step and not self.known.optimizers:
            self._take()

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.tracker.drop()  # an optimizer's hooks see the updates from now on

    def gather(self, batch: tensor_stats.HostBatch) -> None:
        gather_steps(batch, self.steps)

    def finish(self) -> None:
        """After the run: an update made after the last backward() is only seen now."""
        if self._refusal is not None and not self.known.optimizers:
            self.gaps.add("updates made without an optimizer", "the copy of the parameters "
                          f"they are found with does not fit: {self._refusal}", 0)
        if not self.known.optimizers and len(self.steps) < self.steps_requested:
            self._check()

    def _take(self) -> None:
        """Copy the parameters after a backward() when no optimizer stepped yet, if the copy fits:
        else updates made without an optimizer go unseen (and the report says so)."""
        tensors = self.tracker.tensors(self.known.params)
        refusal = self.copy_budget.refusal(tensor_stats.copy_bytes(tensors), 0)
        if refusal is None:
            try:
                self.tracker.take(tensors)
                return
            except (MemoryError, RuntimeError) as error:
                if not budget.out_of_memory(error):
                    raise
                refusal = str(error).splitlines()[0][:200]
        self.tracker.drop()
        self._refusal = refusal  # said in the report only if no optimizer ever stepped

    def _check(self) -> None:
        """Before a backward(): did the parameters change since the last one, with no optimizer?"""
        found = self.tracker.changed()
        if found is None:
            return
        snap, host = found
        window = self.window
        # Module parameters are always shown; a graph leaf (raw tensor) only once it was updated,
        # so an input with requires_grad does not pass for a parameter.
        keep = [i for i, t in enumerate(snap.tensors)
                if host.distances[i] > 0 or id(t) in self.known.param_index]
        index = {i: self.known.param(snap.tensors[i]) for i in keep}
        grads = [(index[i], k) for k, i in enumerate(snap.with_grad) if i in index]
        step = RawStep(
            optimizer=MANUAL, losses=window.losses, backward_calls=window.backward_calls, lr=[],
            grads_present_before=window.grads_present_before, started=window.started,
            grad_params=[p for p, _ in grads], grad_norms=[host.grad_norms[k] for _, k in grads],
            grad_nonzero=[host.grad_nonzero[k] for _, k in grads],
            stepped=[index[i] for i in keep], param_norms=[host.param_norms[i] for i in keep],
            update_norms=[host.distances[i] for i in keep], stale=window.stale,
        )
        now = time.monotonic()
        step.duration_s = now - step.started
        self.steps.append(step)
        self.events.manual_update(len(self.steps) - 1)
        window.reset(started=now)
