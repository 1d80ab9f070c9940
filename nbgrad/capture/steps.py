"""Optimizer steps: per step, the gradients it started from, the parameters it changed and by how
much, with the losses and backward() calls of its window.

What every step costs is kept small (norms of gradients and parameters, the update from a copy of
the stepped parameters); what costs more (non-zero counts) is measured only in the probe's windows.
Every number stays on the device until the run is over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from nbgrad.capture import budget, tensor_stats
from nbgrad.capture.amp import LossScaling
from nbgrad.capture.events import EventLog
from nbgrad.capture.optimizer_state import plain
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.capture.watcher import Counts, Gaps, Held, Known, Values, Watcher, Window
from nbgrad.records import ParamStats, StepRecord

# a step's copy of the parameters up to this size is kept for the next step to write over: for a
# small model, allocating it is most of what the copy costs
KEEP_COPY_BYTES = 4 << 20
MANUAL = -1  # RawStep.optimizer of an update made without an optimizer (capture/manual.py)


@dataclass
class RawStep:
    """One optimizer step (or manual update) as the hooks saw it, values still on the device."""

    optimizer: int
    losses: list[torch.Tensor | None]
    backward_calls: int
    lr: list[Any]
    grads_present_before: bool
    started: float
    grad_params: list[int] = field(default_factory=list)  # indices into Known.params with a grad
    grad_norms: Values = None
    grad_nonzero: Values = None  # None: not counted at this step (outside the probe's windows)
    stepped: list[int] = field(default_factory=list)  # parameters the stepping optimizer holds
    param_norms: Values = None  # of `stepped`
    others: list[int] = field(default_factory=list)  # every other parameter known at this step
    other_norms: Values = None
    copies: tensor_stats.Copies = field(default_factory=tensor_stats.Copies)
    update_norms: Values = None  # of `stepped`; None: not measured (no room for the copy)
    duration_s: float = 0.0
    closure: bool = False
    inner_backwards: int = 0
    grad_scale: torch.Tensor | None = None  # a GradScaler's scale during this step
    stale: Held | None = None  # grads held at the first backward
    after_first: Held | None = None  # grads right after it
    first_counts: Counts | None = None
    batch: torch.Tensor | None = None  # fingerprint of the first layer's input (same batch?)


class OptimizerSteps(Watcher):
    """Measures each optimizer step around it; `counting()` says whether non-zero counts are
    taken now (in the probe's windows, or on every step)."""

    def __init__(self, known: Known, window: Window, events: EventLog, scaling: LossScaling,
                 copy_budget: budget.CopyBudget, gaps: Gaps, counting: Callable[[], bool]) -> None:
        self.known = known
        self.window = window
        self.events = events
        self.scaling = scaling
        self.copy_budget = copy_budget  # whether the stepped parameters may be copied
        self.gaps = gaps
        self.counting = counting
        self.steps: list[RawStep] = []
        self.taken: dict[int, int] = {}  # optimizer index -> steps taken
        self._current: RawStep | None = None
        # per optimizer: (its params, params known then, their indices, the others, copy bytes)
        self._stepped: dict[int, tuple[list[Any], int, list[int], list[int],
                                       dict[torch.device, int]]] = {}
        self._spare: dict[tuple[Any, ...], tensor_stats.Copies] = {}  # small copies, kept to reuse

    def after_backward(self) -> None:
        step = self._current
        if step is not None and step.closure:
            step.inner_backwards += 1
            if step.inner_backwards == 1:  # a closure's first gradient is what the step starts from
                self._measure_grads(step, self.counting())

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        known, window = self.known, self.window
        index = known.optimizer(optimizer)
        stepped, others, sizes = self._stepped_params(optimizer)
        counting = self.counting()  # before the probe closes its window
        closure = bool(args[1:]) or kwargs.get("closure") is not None
        # the first backward's numbers hold at the step when nothing ran between them but the
        # step itself: a GradScaler unscales and clip_grad_norm_ rescales in place, not always
        # bumping versions
        untouched = (len(self.events.events) - window.events_at_first == 1
                     and not self.scaling.in_use)
        step = RawStep(
            optimizer=index,
            losses=window.losses,
            backward_calls=window.backward_calls,
            lr=[g.get("lr") for g in optimizer.param_groups],
            grads_present_before=window.grads_present_before,
            started=window.started,
            closure=closure,
            grad_scale=self.scaling.step_scale,
            stale=window.stale,
            after_first=window.after_first,
            first_counts=window.first_counts,
            batch=window.batch,
        )
        window.reset()  # a closure's backward calls during step() are counted afresh
        step.stepped, step.others = stepped, others
        tensors = [known.params[i] for i in stepped]
        key = ("param", *stepped)
        if self._may_copy(optimizer, sizes):
            try:
                step.copies, step.param_norms = tensor_stats.copies(
                    tensors, known.layouts, key, reuse=self._spare.pop(key, None))
            except (MemoryError, RuntimeError) as error:  # torch.OutOfMemoryError is one
                if not budget.out_of_memory(error):
                    raise
                self.gaps.add("update sizes", "copying the parameters ran out of memory: "
                              + str(error).splitlines()[0][:200])
        if step.param_norms is None:
            step.param_norms = tensor_stats.norms(tensors, known.layouts, key)
        if others:
            step.other_norms = tensor_stats.norms([known.params[i] for i in others],
                                                  known.layouts, ("param", *others))
        self._measure_grads(step, counting, untouched)
        self._current = step
        window.in_step = True

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        step, window = self._current, self.window
        if step is None:
            return
        self._current = None
        window.in_step = False
        if step.copies:
            step.update_norms = tensor_stats.distances([self.known.params[i] for i in step.stepped],
                                                       step.copies)
            if sum(self._stepped[id(optimizer)][4].values()) <= KEEP_COPY_BYTES:
                key = ("param", *step.stepped)
                self._spare[key] = step.copies
        step.copies = tensor_stats.Copies()
        step.losses = step.losses + window.losses  # from a closure, if the step had one
        if step.batch is None:
            step.batch = window.batch  # a closure's forward pass
        step.backward_calls += window.backward_calls
        now = time.monotonic()
        step.duration_s = now - step.started
        self.steps.append(step)
        window.reset(started=now)
        self.taken[step.optimizer] = self.taken.get(step.optimizer, 0) + 1

    def _stepped_params(self, optimizer: torch.optim.Optimizer
                        ) -> tuple[list[int], list[int], dict[torch.device, int]]:
        """The optimizer's parameters (indices), every other known one, and the bytes a copy of
        the optimizer's takes per device; worked out again only when its parameters changed."""
        known = self.known
        held = [p for g in optimizer.param_groups for p in g["params"]]
        cached = self._stepped.get(id(optimizer))
        if (cached is not None and cached[1] == len(known.params) and len(cached[0]) == len(held)
                and all(a is b for a, b in zip(cached[0], held))):
            return cached[2], cached[3], cached[4]
        stepped = [known.param(p) for p in held]
        chosen = set(stepped)
        others = [i for i in range(len(known.params)) if i not in chosen]
        sizes = tensor_stats.copy_bytes(held)
        self._stepped[id(optimizer)] = (held, len(known.params), stepped, others, sizes)
        return stepped, others, sizes

    def _may_copy(self, optimizer: torch.optim.Optimizer, sizes: dict[torch.device, int]) -> bool:
        """Whether a copy of the stepped parameters fits beside what the step itself needs; if
        not, update sizes are not measured at this step (said in the report), and the loop runs
        as it would without nbgrad instead of running out of memory."""
        refusal = self.copy_budget.refusal(sizes, budget.new_state_buffers(optimizer))
        if refusal is None:
            return True
        self.gaps.add("update sizes", "a copy of the parameters at each step would not fit "
                      f"beside the step itself: {refusal}")
        return False

    def _measure_grads(self, step: RawStep, counting: bool, untouched: bool = False) -> None:
        with_grad = self.known.with_grad()
        grads = self.known.grads(with_grad)
        step.grad_params = with_grad
        first, counts = step.after_first, step.first_counts
        if (untouched and first is not None and counts is not None and first[0] == with_grad
                and (counts[0] is not None or not counting)
                and counts[1] == [(id(g), g._version) for g in grads]):
            step.grad_norms = first[1]  # untouched since backward
            step.grad_nonzero = counts[0] if counting else None
            return
        step.grad_norms, step.grad_nonzero = tensor_stats.norms_and_nonzero(
            grads, nonzero=counting, cache=self.known.layouts, key=("grad", *with_grad))

    def gather(self, batch: HostBatch) -> None:
        gather_steps(batch, self.steps)


def gather_steps(batch: HostBatch, steps: list[RawStep]) -> None:
    """Every device value of these steps' records, into `batch`."""
    for raw in steps:
        batch.add_all([*raw.losses, raw.grad_norms, raw.grad_nonzero, raw.param_norms,
                       raw.other_norms, raw.update_norms, raw.grad_scale, raw.batch])
        for held in (raw.stale, raw.after_first):
            if held is not None:
                batch.add(held[1])


def step_record(index: int, raw: RawStep, names: list[str], numel: list[int],
                batch: HostBatch) -> StepRecord:
    """A step's record from its host numbers (`batch` fetched); its layers are added after."""
    grad_norm = dict(zip(raw.grad_params, batch.get(raw.grad_norms) or []))
    nonzero = dict(zip(raw.grad_params, batch.get(raw.grad_nonzero) or []))
    param_norm = dict(zip(raw.stepped, batch.get(raw.param_norms) or []))
    param_norm.update(zip(raw.others, batch.get(raw.other_norms) or []))
    update = dict(zip(raw.stepped, batch.get(raw.update_norms) or []))
    params = {}
    for i in [*raw.stepped, *raw.others]:
        g = grad_norm.get(i)
        zero = None if i not in nonzero else 1.0 - nonzero[i] / max(numel[i], 1)
        params[names[i]] = ParamStats(
            grad_norm=g,
            grad_zero_fraction=zero,
            param_norm=param_norm[i],
            update_norm=update.get(i),
            update_to_param_ratio=ratio(update.get(i), param_norm[i]),
        )
    own = not raw.closure and raw.optimizer != MANUAL
    return StepRecord(
        index=index,
        optimizer=raw.optimizer,
        losses=[batch.scalar(v) for v in raw.losses],
        backward_calls=raw.backward_calls,
        lr=[plain(v) for v in raw.lr],
        grads_before_backward=_held_norm(batch, raw.stale) if raw.grads_present_before else None,
        grads_present_before_backward=raw.grads_present_before,
        duration_s=raw.duration_s,
        params=params,
        grad_scale=batch.scalar(raw.grad_scale),
        stale_grad_norm=_held_norm(batch, raw.stale, set(raw.stepped)) if own else None,
        backward_grad_norm=_held_norm(batch, raw.after_first, set(raw.stepped)) if own else None,
        batch_fingerprint=batch.get(raw.batch),
    )


def ratio(update: float | None, norm: float) -> float | None:
    if update is None:
        return None
    if norm == 0:
        return math.inf if update > 0 else 0.0
    return update / norm


def _held_norm(batch: HostBatch, held: Held | None, among: set[int] | None = None) -> float | None:
    """Root of the sum of squared grad norms of the params in `held` (those in `among` if given)."""
    if held is None:
        return None
    norms = dict(zip(held[0], batch.get(held[1])))
    return math.sqrt(sum(v * v for i, v in norms.items() if among is None or i in among))
