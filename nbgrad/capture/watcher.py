"""The one hook protocol of a run's recording, and what the watchers share.

Every part of the recording (the optimizer steps, the manual updates, the GradScaler's skips, the
optimizers' state, the layers, the event log, the forward pass) is a `Watcher`: it keeps its own
state, listens to the hooks it needs, and adds its own part to the records after the run. The
recorder only calls the hooks, in order, and hands each recorded step to the stop's owner. The
watchers index what they saw into one `Known` registry (parameters and optimizers by first
sight), and the ones that make a step out of the backward() calls before it read one `Window`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from nbgrad.capture import tensor_stats
from nbgrad.capture.tensor_stats import HostBatch

Values = tensor_stats.Vector | list[float] | None  # per parameter; a list once on the host
Held = tuple[list[int], tensor_stats.Vector]  # parameters holding a gradient, and its norm each
Counts = tuple[Values, list[tuple[int, int]]]  # non-zero counts, and each gradient's (id, version)


class Watcher:
    """One part of the recording. Each hook does nothing unless a watcher overrides it; the
    recorder calls only the overridden ones (see `listeners`)."""

    def on_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        """A module's forward returned (the global forward hook)."""

    def on_backward(self, tensors: Any) -> None:
        """A backward() is about to run."""

    def after_backward(self) -> None:
        """That backward() returned (or raised)."""

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        """An optimizer's or a module's zero_grad()."""

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """An optimizer step is about to run (the global step pre-hook)."""

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """That step returned (the global step post-hook)."""

    def on_clip(self, max_norm: Any, total_norm: Any) -> None:
        """clip_grad_norm_ returned the norm the gradients had before it clipped them."""

    def gather(self, batch: HostBatch) -> None:
        """After the run: every device value this watcher's records need, into `batch`."""


def listeners(watchers: list[Watcher], hook: str) -> list[Any]:
    """The bound `hook` of each watcher that overrides it, in order: a hook nobody listens to
    costs nothing per call."""
    default = getattr(Watcher, hook)
    return [getattr(w, hook) for w in watchers if getattr(type(w), hook) is not default]


class Known:
    """Every parameter and optimizer the run met, indexed by first sight: what the watchers' raw
    records point into, and what the records name after the run."""

    def __init__(self) -> None:
        self.params: list[torch.Tensor] = []
        self.param_index: dict[int, int] = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self._optimizer_index: dict[int, int] = {}
        # how tensor_stats groups each set of parameters or gradients (by index), for the whole run
        self.layouts: tensor_stats.Layouts = {}

    def param(self, param: torch.Tensor) -> int:
        index = self.param_index.get(id(param))
        if index is None:
            index = len(self.params)
            self.param_index[id(param)] = index
            self.params.append(param)
        return index

    def optimizer(self, optimizer: torch.optim.Optimizer) -> int:
        index = self._optimizer_index.get(id(optimizer))
        if index is None:
            index = len(self.optimizers)
            self._optimizer_index[id(optimizer)] = index
            self.optimizers.append(optimizer)
        return index

    def optimizer_params(self, optimizer: torch.optim.Optimizer) -> list[int]:
        return [self.param(p) for g in optimizer.param_groups for p in g["params"]]

    def with_grad(self) -> list[int]:
        """The known parameters that hold a `.grad` now."""
        return [i for i, p in enumerate(self.params) if p.grad is not None]

    def grads(self, indices: list[int]) -> list[torch.Tensor]:
        """The gradients of `indices` (each holds one: see `with_grad`)."""
        found = [self.params[i].grad for i in indices]
        return [g for g in found if g is not None]

    def grads_by_param(self) -> Held:
        """Which known params hold a `.grad` now, and its norm each (on the device)."""
        held = self.with_grad()
        if not held:
            return held, tensor_stats.EMPTY
        return held, tensor_stats.norms(self.grads(held), self.layouts, ("grad", *held))


@dataclass
class Window:
    """What the hooks saw since the last step: the next step's losses and backward() calls, and
    the gradients around its first backward()."""

    started: float = field(default_factory=time.monotonic)
    in_step: bool = False  # inside optimizer.step() (a closure's backward calls run there)
    losses: list[torch.Tensor | None] = field(default_factory=list)
    backward_calls: int = 0
    grads_present_before: bool = False
    stale: Held | None = None  # grads held at the first backward
    after_first: Held | None = None  # grads right after it
    # the first backward's non-zero counts, and each gradient's (id, version) at that time: when
    # the step sees the very same, unmodified gradients it reuses these numbers
    first_counts: Counts | None = None
    events_at_first: int = -1
    batch: torch.Tensor | None = None  # fingerprint of the first layer's input (same batch?)

    def reset(self, started: float | None = None) -> None:
        """A step took what the window held; `started` when the next step's time starts now."""
        self.losses = []
        self.backward_calls = 0
        self.grads_present_before = False
        self.stale = self.after_first = None
        self.first_counts = None
        self.events_at_first = -1
        self.batch = None
        if started is not None:
            self.started = started


class Gaps:
    """What the run left out, and why (no room for a copy, say): said in the report."""

    def __init__(self) -> None:
        self.gaps: dict[str, list[Any]] = {}  # what -> [why (the first reason), at how many steps]

    def add(self, what: str, why: str, steps: int = 1) -> None:
        gap = self.gaps.setdefault(what, [why, 0])
        gap[1] += steps

    def words(self, done: int) -> list[str]:
        """In words for the report; `done` is how many steps were recorded."""
        return [f"{what} at {count} of {done} steps ({why})" if count else f"{what} ({why})"
                for what, (why, count) in self.gaps.items()]
