"""What the hooks call: collects raw per-step tensors while the cell runs.

The recorder keeps device tensors (norms, counts, loss values) and converts them to plain numbers
only in `finish()`, after the cell has stopped, so the steps themselves never wait on the device:
no `.item()`, no copy from one device to another, while the loop runs. What every step costs is
kept small (norms of gradients and parameters, the update from a copy of the stepped parameters);
what costs more (non-zero counts) is measured only in the probe's windows.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nbgrad.capture import budget, tensor_stats
from nbgrad.capture.callsite import cell_line
from nbgrad.capture.manual import MANUAL, ManualTracker
from nbgrad.capture.probe import Probe
from nbgrad.capture.stop import Stop
from nbgrad.records import Event

_compiling = torch.compiler.is_compiling  # on every module call: one lookup less

# a step's copy of the parameters up to this size is kept for the next step to write over: for a
# small model, allocating it is most of what the copy costs
KEEP_COPY_BYTES = 4 << 20


Values = tensor_stats.Vector | list[float] | None  # per parameter; a list once on the host
Held = tuple[list[int], tensor_stats.Vector]  # parameters holding a gradient, and its norm each


@dataclass
class RawStep:
    """One optimizer step as the hooks saw it, values still on the device."""

    optimizer: int
    losses: list[torch.Tensor | None]
    backward_calls: int
    lr: list[Any]
    grads_present_before: bool
    started: float
    grad_params: list[int] = field(default_factory=list)  # indices into Recorder.params with a grad
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
    first_counts: tuple[Values, list[tuple[int, int]]] | None = None
    batch: torch.Tensor | None = None  # fingerprint of the first layer's input (same batch?)


@dataclass
class RawSkipped:
    """A GradScaler step that found inf/NaN gradients and did not call optimizer.step()."""

    after_step: int
    optimizer: int
    losses: list[torch.Tensor | None]
    backward_calls: int
    grad_scale: torch.Tensor | None
    grad_params: list[int]
    grad_norms: tensor_stats.Vector


@dataclass
class RawOptimizerState:
    groups: list[dict[str, Any]]
    keys: list[tuple[int, str]]  # (param index, buffer name)
    scalars: list[torch.Tensor | float | None]  # per key: a one-value buffer (None: see norms)
    norms: tensor_stats.Vector  # the norm of every other buffer, in key order


class Recorder:
    """Receives every hook call of one run."""

    def __init__(self, filename: str, stop: Stop, activations: bool = False) -> None:
        self.filename = filename
        self.probe = Probe(filename, every_step=activations)  # what the forward pass shows
        self.stop = stop  # decides when the run ends; the hooks report each step to it
        self.steps_requested = stop.steps_requested
        self.params: list[torch.Tensor] = []
        self._param_index: dict[int, int] = {}
        self.modules: dict[int, nn.Module] = {}
        # how tensor_stats groups each set of parameters or gradients (by index), for the whole run
        self._layouts: tensor_stats.Layouts = {}
        # per optimizer: (its params, params known then, their indices, the others, copy bytes)
        self._stepped: dict[int, tuple[list[Any], int, list[int], list[int],
                                       dict[torch.device, int]]] = {}
        self.copy_budget = budget.CopyBudget()  # whether the stepped parameters may be copied
        self._spare: dict[tuple[Any, ...], tensor_stats.Copies] = {}  # small copies, kept to reuse
        # what the run left out: what -> [why (the first reason), at how many steps]
        self.gaps: dict[str, list[Any]] = {}
        self._manual_refusal: str | None = None
        self.optimizers: list[torch.optim.Optimizer] = []
        self._optimizer_index: dict[int, int] = {}
        self.optimizer_steps: list[int] = []
        self.optimizer_skipped: list[int] = []  # GradScaler steps that did not reach the optimizer
        self._skip_scales: dict[int, list[torch.Tensor | None]] = {}
        self.skipped: list[RawSkipped] = []
        self.manual_steps: list[RawStep] = []  # parameter updates made without an optimizer
        self.manual = ManualTracker()
        self._scaled: tuple[weakref.ref[torch.Tensor], torch.Tensor] | None = None
        self._loss_scaling = False  # a GradScaler is in use: gradients get unscaled in place
        self._step_scale: torch.Tensor | None = None
        self.states_before: dict[int, RawOptimizerState] = {}
        self.events: list[Event] = []
        self.steps: list[RawStep] = []
        self.on_step: Any = None  # progress callback(step_index, steps_requested)
        self._window_started = time.monotonic()
        self._reset_window()
        self._current: RawStep | None = None
        self.module_seen: dict[int, tuple[int, int | None, int]] = {}  # id -> (order, line, step)
        self.event_values: dict[int, torch.Tensor] = {}  # event index -> value still on the device
        self._entry: int | None = None  # id of the first module that ran: the model's entry layer
        # its latest input, until the next backward() takes its fingerprint
        self._entry_input: torch.Tensor | None = None

    # -- registry -------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self._losses: list[torch.Tensor | None] = []
        self._backward_calls = 0
        self._grads_present_before = False
        self._stale: Held | None = None
        self._after_first: Held | None = None
        # the first backward's non-zero counts, and each gradient's (id, version) at that time:
        # when the step sees the very same, unmodified gradients it reuses these numbers
        self._first_counts: tuple[Values, list[tuple[int, int]]] | None = None
        self._events_at_first = -1
        self._batch: torch.Tensor | None = None

    def _register_param(self, param: torch.Tensor) -> int:
        index = self._param_index.get(id(param))
        if index is None:
            index = len(self.params)
            self._param_index[id(param)] = index
            self.params.append(param)
        return index

    def _register_optimizer(self, optimizer: torch.optim.Optimizer) -> int:
        index = self._optimizer_index.get(id(optimizer))
        if index is None:
            index = len(self.optimizers)
            self._optimizer_index[id(optimizer)] = index
            self.optimizers.append(optimizer)
            self.optimizer_steps.append(0)
            self.optimizer_skipped.append(0)
        return index

    def optimizer_params(self, optimizer: torch.optim.Optimizer) -> list[int]:
        return [self._register_param(p) for g in optimizer.param_groups for p in g["params"]]

    def _event(self, kind: str, target: str = "", detail: str = "",
               value: float | None = None) -> None:
        line = cell_line(self.filename)
        done = len(self.steps) + len(self.manual_steps)
        self.events.append(Event(kind, done, line, target, detail, value))  # type: ignore[arg-type]

    def pending_losses(self) -> list[torch.Tensor | None]:
        """Losses of backward calls made after the last step (a loop that never stepped, say)."""
        return list(self._losses)

    # -- hooks ----------------------------------------------------------------------------
    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        if _compiling():
            # torch.compile traces global hooks into the model's graph: nothing of nbgrad's may be
            # in it (frame walks break the graph). The compiled wrapper's own call, outside the
            # graph, registers the modules inside it.
            return
        self.stop.check()
        key = id(module)
        if self._entry is None:
            self._entry = key
        if key == self._entry and args and isinstance(args[0], torch.Tensor):
            # the latest input wins: a validation pass between steps is followed by the batch
            # that the next backward() is computed from
            self._entry_input = args[0]
        if key not in self.modules:
            self._register_module(module)
        if self.probe.window is not None or self.probe.every_step:
            self.probe.on_forward(module, args, output)

    def _register_module(self, module: nn.Module) -> None:
        inner = getattr(module, "_orig_mod", None)  # torch.compile's wrapper around a model
        for m in [module, *(inner.modules() if isinstance(inner, nn.Module) else ())]:
            if id(m) in self.modules:
                continue
            self.modules[id(m)] = m
            self.module_seen[id(m)] = (len(self.module_seen), cell_line(self.filename),
                                       len(self.steps))
            for param in nn.Module.parameters(m, recurse=False):  # not an override
                self._register_param(param)

    def before_backward(self, tensors: Any) -> None:
        self.stop.check()
        if not self.optimizers:
            self._check_manual_update()
            self.manual.note_graph(tensors)
        if self._backward_calls == 0:
            if self._entry_input is not None:
                self._batch = tensor_stats.fingerprint(self._entry_input)
                self._entry_input = None
            self._stale = self._grads_by_param()
            self._grads_present_before = bool(self._stale[0])
        self._backward_calls += 1
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        loss = tensor_stats.scalar(first) if isinstance(first, torch.Tensor) else None
        if self._scaled is not None and self._scaled[0]() is first:
            loss = self._scaled[1]  # the user's loss, not loss * scale
            self._scaled = None
        self._losses.append(loss)
        self._event("backward")

    def after_backward(self) -> None:
        step = self._current
        if step is None and self._backward_calls == 1 and self._after_first is None:
            held = [i for i, p in enumerate(self.params) if p.grad is not None]
            grads = [self.params[i].grad for i in held]
            norms, counts = tensor_stats.norms_and_nonzero(
                grads, nonzero=self._counting(), cache=self._layouts, key=("grad", *held))  # type: ignore[arg-type]
            self._after_first = (held, norms)  # what the first backward() produced
            self._first_counts = (counts, [(id(g), g._version) for g in grads])  # type: ignore[union-attr]
            self._events_at_first = len(self.events)
        if step is not None and step.closure:
            step.inner_backwards += 1
            if step.inner_backwards == 1:  # a closure's first gradient is what the step starts from
                self._measure_grads(step, self._counting())
        elif step is None and not self.optimizers:
            self._take_manual()

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        target = type(owner).__name__
        self._event("zero_grad", target=target, detail=f"set_to_none={set_to_none}")

    def on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        index = self._register_optimizer(optimizer)
        self.manual.drop()
        self.stop.before_step(self._attempts(index))  # not one step more than asked
        stepped, others, sizes = self._stepped_params(optimizer)
        counting = self._counting()  # before the probe closes its window
        self.probe.on_step_pre(self.params)
        if index not in self.states_before:
            self.states_before[index] = optimizer_state(optimizer, self._param_index)
        self._event("step", target=type(optimizer).__name__)
        closure = bool(args[1:]) or kwargs.get("closure") is not None
        # the first backward's numbers hold at the step when nothing ran between them but the
        # step itself: a GradScaler unscales and clip_grad_norm_ rescales in place, not always
        # bumping versions
        untouched = len(self.events) - self._events_at_first == 1 and not self._loss_scaling
        step = RawStep(
            optimizer=index,
            losses=self._losses,
            backward_calls=self._backward_calls,
            lr=[g.get("lr") for g in optimizer.param_groups],
            grads_present_before=self._grads_present_before,
            started=self._window_started,
            closure=closure,
            grad_scale=self._step_scale,
            stale=self._stale,
            after_first=self._after_first,
            first_counts=self._first_counts,
            batch=self._batch,
        )
        self._reset_window()  # a closure's backward calls during step() are counted afresh
        step.stepped, step.others = stepped, others
        tensors = [self.params[i] for i in stepped]
        key = ("param", *stepped)
        if self._may_copy(optimizer, sizes):
            try:
                step.copies, step.param_norms = tensor_stats.copies(
                    tensors, self._layouts, key, reuse=self._spare.pop(key, None))
            except (MemoryError, RuntimeError) as error:  # torch.OutOfMemoryError is one
                if not budget.out_of_memory(error):
                    raise
                self._not_measured("update sizes", "copying the parameters ran out of memory: "
                                   + str(error).splitlines()[0][:200])
        if step.param_norms is None:
            step.param_norms = tensor_stats.norms(tensors, self._layouts, key)
        if others:
            step.other_norms = tensor_stats.norms([self.params[i] for i in others], self._layouts,
                                                  ("param", *others))
        self._measure_grads(step, counting, untouched)
        self._current = step

    def _stepped_params(self, optimizer: torch.optim.Optimizer
                        ) -> tuple[list[int], list[int], dict[torch.device, int]]:
        """The optimizer's parameters (indices), every other known one, and the bytes a copy of
        the optimizer's takes per device; worked out again only when its parameters changed."""
        held = [p for g in optimizer.param_groups for p in g["params"]]
        cached = self._stepped.get(id(optimizer))
        if (cached is not None and cached[1] == len(self.params) and len(cached[0]) == len(held)
                and all(a is b for a, b in zip(cached[0], held))):
            return cached[2], cached[3], cached[4]
        stepped = [self._register_param(p) for p in held]
        chosen = set(stepped)
        others = [i for i in range(len(self.params)) if i not in chosen]
        sizes = tensor_stats.copy_bytes(held)
        self._stepped[id(optimizer)] = (held, len(self.params), stepped, others, sizes)
        return stepped, others, sizes

    def _may_copy(self, optimizer: torch.optim.Optimizer, sizes: dict[torch.device, int]) -> bool:
        """Whether a copy of the stepped parameters fits beside what the step itself needs; if
        not, update sizes are not measured at this step (said in the report), and the loop runs
        as it would without nbgrad instead of running out of memory."""
        refusal = self.copy_budget.refusal(sizes, budget.new_state_buffers(optimizer))
        if refusal is None:
            return True
        self._not_measured("update sizes", "a copy of the parameters at each step would not fit "
                           f"beside the step itself: {refusal}")
        return False

    def _not_measured(self, what: str, why: str, steps: int = 1) -> None:
        gap = self.gaps.setdefault(what, [why, 0])
        gap[1] += steps

    def not_measured(self) -> list[str]:
        """What the run left out and why, in words for the report."""
        done = len(self.steps) + len(self.manual_steps)
        return [f"{what} at {count} of {done} steps ({why})" if count else f"{what} ({why})"
                for what, (why, count) in self.gaps.items()]

    def _take_manual(self) -> None:
        """Copy the parameters after a backward() when no optimizer stepped yet, if the copy fits:
        else updates made without an optimizer go unseen (and the report says so)."""
        tensors = self.manual.tensors(self.params)
        refusal = self.copy_budget.refusal(tensor_stats.copy_bytes(tensors), 0)
        if refusal is None:
            try:
                self.manual.take(tensors)
                return
            except (MemoryError, RuntimeError) as error:
                if not budget.out_of_memory(error):
                    raise
                refusal = str(error).splitlines()[0][:200]
        self.manual.drop()
        self._manual_refusal = refusal  # said in the report only if no optimizer ever stepped

    def _counting(self) -> bool:
        """Non-zero counts are taken in the probe's windows (or on every step when asked)."""
        return self.probe.window is not None or self.probe.every_step

    def on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        step = self._current
        if step is None:
            return
        self._current = None
        if step.copies:
            step.update_norms = tensor_stats.distances([self.params[i] for i in step.stepped],
                                                       step.copies)
            if sum(self._stepped[id(optimizer)][4].values()) <= KEEP_COPY_BYTES:
                key = ("param", *step.stepped)
                self._spare[key] = step.copies
        step.copies = tensor_stats.Copies()
        step.losses = step.losses + self._losses  # from a closure, if the step had one
        if step.batch is None:
            step.batch = self._batch  # a closure's forward pass
        step.backward_calls += self._backward_calls
        now = time.monotonic()
        step.duration_s = now - step.started
        self.steps.append(step)
        self._window_started = now
        self._reset_window()
        self.optimizer_steps[step.optimizer] += 1
        self._after_attempt(len(self.steps) + len(self.skipped))

    def _attempts(self, index: int) -> int:
        """Steps an optimizer took: what `steps_requested` counts (GradScaler skips do not)."""
        return self.optimizer_steps[index]

    def _after_attempt(self, done: int, live: bool = True) -> None:
        if live and self.on_step is not None:
            self.on_step(done, self.steps_requested)
        attempts = [self._attempts(i) for i in range(len(self.optimizers))] or [len(self.manual_steps)]
        self.probe.on_step_post(attempts, self.steps_requested, len(self.steps))
        if live:
            self.stop.after_step(attempts)

    # -- GradScaler (see capture/amp.py) ----------------------------------------------------
    def note_scaled(self, loss: Any, scaled: Any) -> None:
        """`scaler.scale(loss)` returned `scaled`: a backward() on it reports `loss` (loss * scale
        may even have overflowed to inf)."""
        self._loss_scaling = True
        if isinstance(loss, torch.Tensor) and isinstance(scaled, torch.Tensor):
            value = tensor_stats.scalar(loss)
            if value is not None:
                self._scaled = (weakref.ref(scaled), value)

    def before_scaler_step(self, scale: torch.Tensor | None) -> None:
        self.stop.check()
        self._step_scale = None if scale is None else scale.detach().to(torch.float32).clone()

    def after_scaler_step(self, optimizer: torch.optim.Optimizer, steps_before: int) -> None:
        """Called when `GradScaler.step` returned: no new step recorded means it skipped one."""
        scale, self._step_scale = self._step_scale, None
        if len(self.steps) != steps_before or not isinstance(optimizer, torch.optim.Optimizer):
            return
        index = self._register_optimizer(optimizer)
        self.manual.drop()
        if index not in self.states_before:
            self.states_before[index] = optimizer_state(optimizer, self._param_index)
        held = self.optimizer_params(optimizer)
        with_grad = [i for i in held if self.params[i].grad is not None]
        self.skipped.append(RawSkipped(
            after_step=len(self.steps), optimizer=index, losses=self._losses,
            backward_calls=self._backward_calls, grad_scale=scale, grad_params=with_grad,
            grad_norms=tensor_stats.norms([self.params[i].grad for i in with_grad]),  # type: ignore[misc]
        ))
        self._event("step_skipped", target=type(optimizer).__name__,
                    detail="GradScaler: inf/NaN grads")
        if scale is not None:
            self.event_values[len(self.events) - 1] = scale
        self._window_started = time.monotonic()
        self.stop.progress()
        self._reset_window()
        self.optimizer_skipped[index] += 1
        if self.on_step is not None:
            self.on_step(len(self.steps) + len(self.skipped), self.steps_requested)
        self._stop_if_scaler_stuck(index, scale)

    def _stop_if_scaler_stuck(self, index: int, scale: torch.Tensor | None) -> None:
        """Skips while the scale is still large are the scaler finding its range and do not count;
        skips at a scale below 1, or at a scale that `update()` never lowers, go on forever.

        The scales stay on the device; they are read (one transfer) only once a run has seen
        `steps_requested` skips, which a scaler that finds its range does not reach."""
        scales = self._skip_scales.setdefault(index, [])
        scales.append(scale)
        n = self.steps_requested
        earlier = scales[-n] if len(scales) >= n else None
        if scale is None or earlier is None:
            return
        now, then = torch.stack([scale, earlier.to(scale.device)]).tolist()
        if now < 1.0 or now == then:
            self.stop.scaler_stuck()

    # -- manual updates (see capture/manual.py) ---------------------------------------------
    def _insert_manual_event(self, index: int) -> None:
        """The update happened after the last backward(); later events belong to the next update."""
        pos = len(self.events)
        while pos > 0 and self.events[pos - 1].kind != "backward":
            pos -= 1
        for event in self.events[pos:]:
            event.step += 1
        self.events.insert(pos, Event("manual_update", index, None,
                                      detail="parameters changed in place after this backward()"))

    def finish_manual(self) -> None:
        """After the run: an update made after the last backward() is only seen now."""
        if self._manual_refusal is not None and not self.optimizers:
            self._not_measured("updates made without an optimizer", "the copy of the parameters "
                               f"they are found with does not fit: {self._manual_refusal}", 0)
        if self.optimizers or len(self.manual_steps) >= self.steps_requested:
            return
        self._check_manual_update(live=False)

    def _check_manual_update(self, live: bool = True) -> None:
        """Before a backward(): did the parameters change since the last one, with no optimizer?
        Not `live` once the run is over: the update is recorded, and nothing is reported or
        stopped."""
        found = self.manual.changed()
        if found is None:
            return
        snap, host = found
        # Module parameters are always shown; a graph leaf (raw tensor) only once it was updated,
        # so an input with requires_grad does not pass for a parameter.
        keep = [i for i, t in enumerate(snap.tensors)
                if host.distances[i] > 0 or id(t) in self._param_index]
        index = {i: self._register_param(snap.tensors[i]) for i in keep}
        grads = [(index[i], k) for k, i in enumerate(snap.with_grad) if i in index]
        step = RawStep(
            optimizer=MANUAL, losses=self._losses, backward_calls=self._backward_calls, lr=[],
            grads_present_before=self._grads_present_before, started=self._window_started,
            grad_params=[p for p, _ in grads], grad_norms=[host.grad_norms[k] for _, k in grads],
            grad_nonzero=[host.grad_nonzero[k] for _, k in grads],
            stepped=[index[i] for i in keep], param_norms=[host.param_norms[i] for i in keep],
            update_norms=[host.distances[i] for i in keep], stale=self._stale,
        )
        now = time.monotonic()
        step.duration_s = now - step.started
        self.manual_steps.append(step)
        self._insert_manual_event(len(self.manual_steps) - 1)
        self._window_started = now
        self._reset_window()
        self._after_attempt(len(self.manual_steps), live)

    # -- measurements ---------------------------------------------------------------------
    def _measure_grads(self, step: RawStep, counting: bool, untouched: bool = False) -> None:
        with_grad = [i for i, p in enumerate(self.params) if p.grad is not None]
        grads = [self.params[i].grad for i in with_grad]
        step.grad_params = with_grad
        first, counts = step.after_first, step.first_counts
        if (untouched and first is not None and counts is not None and first[0] == with_grad
                and (counts[0] is not None or not counting)
                and counts[1] == [(id(g), g._version) for g in grads]):  # type: ignore[union-attr]
            step.grad_norms = first[1]  # untouched since backward
            step.grad_nonzero = counts[0] if counting else None
            return
        step.grad_norms, step.grad_nonzero = tensor_stats.norms_and_nonzero(
            grads, nonzero=counting, cache=self._layouts, key=("grad", *with_grad))  # type: ignore[arg-type]

    def _grads_by_param(self) -> Held:
        """Which known params hold a `.grad` now, and its norm each (on the device)."""
        held = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not held:
            return held, tensor_stats.EMPTY
        grads = [self.params[i].grad for i in held]
        return held, tensor_stats.norms(grads, self._layouts, ("grad", *held))  # type: ignore[arg-type]

    # -- clipping and loss scaling ----------------------------------------------------------
    def on_clip(self, max_norm: Any, total_norm: Any) -> None:
        """`clip_grad_norm_` returned the norm the gradients had before it clipped them."""
        self._event("clip", target="clip_grad_norm_", detail=f"max_norm={max_norm}")
        if isinstance(total_norm, torch.Tensor):
            self.event_values[len(self.events) - 1] = total_norm.detach().reshape(()).float()


def optimizer_state(optimizer: torch.optim.Optimizer, param_index: dict[int, int]) -> RawOptimizerState:
    """Hyperparameters per group and the norm of every state buffer (one-value buffers such as
    Adam's step counter kept as their value). Every number stays on the device its buffer is on:
    Adam keeps its step counter on the CPU beside parameters on a GPU."""
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    keys: list[tuple[int, str]] = []
    scalars: list[torch.Tensor | float | None] = []
    buffers: list[torch.Tensor] = []
    for param, state in optimizer.state.items():
        index = param_index.get(id(param))
        if index is None:
            continue
        for name, value in state.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                one = value.detach().reshape(())
                scalars.append(one.abs() if one.is_floating_point() or one.is_complex()
                               else one.clone())
            elif isinstance(value, torch.Tensor):
                scalars.append(None)
                buffers.append(value.detach())
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                scalars.append(abs(float(value)))
            else:
                continue
            keys.append((index, name))
    return RawOptimizerState(groups, keys, scalars, tensor_stats.norms(buffers))
