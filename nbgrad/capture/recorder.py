"""What the hooks call: collects raw per-step tensors while the cell runs.

The recorder keeps device tensors (norms, counts, loss values) and converts them to plain numbers
only in `finish()`, after the cell has stopped, so the steps themselves never wait on the device.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nbgrad.capture import tensor_stats
from nbgrad.capture.callsite import cell_line
from nbgrad.capture.manual import MANUAL, ManualTracker
from nbgrad.capture.probe import Probe
from nbgrad.records import Event, StopReason


class StopRun(BaseException):
    """Raised inside the user's loop to end it; a BaseException so `except Exception:` lets it pass.

    Its argument is the recorder that asked for the stop, so a nested check only catches its own.
    The timeout's asynchronous StopRun carries no argument.
    """


@dataclass
class RawStep:
    """One optimizer step as the hooks saw it, values still on the device."""

    optimizer: int
    losses: list[torch.Tensor | None]
    backward_calls: int
    lr: list[Any]
    grads_before: torch.Tensor | None
    grads_present_before: bool
    started: float
    grad_params: list[int] = field(default_factory=list)  # indices into Recorder.params with a grad
    grad_norms: torch.Tensor | None = None
    grad_nonzero: torch.Tensor | None = None
    tracked: list[int] = field(default_factory=list)  # every parameter known at this step
    param_norms: torch.Tensor | None = None
    stepped: list[int] = field(default_factory=list)  # parameters the stepping optimizer holds
    copies: tensor_stats.Copies = field(default_factory=tensor_stats.Copies)
    update_norms: torch.Tensor | None = None
    duration_s: float = 0.0
    closure: bool = False
    inner_backwards: int = 0
    grad_scale: torch.Tensor | None = None  # a GradScaler's scale during this step
    stale: tuple[list[int], torch.Tensor] | None = None  # grads held at the first backward
    after_first: tuple[list[int], torch.Tensor] | None = None  # grads right after it
    first_counts: tuple[torch.Tensor | None, list[tuple[int, int]]] | None = None
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
    grad_norms: torch.Tensor


@dataclass
class RawOptimizerState:
    groups: list[dict[str, Any]]
    keys: list[tuple[int, str]]  # (param index, buffer name)
    values: torch.Tensor | None


class Recorder:
    """Receives every hook call of one run."""

    def __init__(self, filename: str, steps: int, activations: bool = False) -> None:
        self.filename = filename
        self.probe = Probe(filename, every_step=activations)  # what the forward pass shows
        self.steps_requested = steps
        self.params: list[torch.Tensor] = []
        self._param_index: dict[int, int] = {}
        self.modules: dict[int, nn.Module] = {}
        # how tensor_stats splits each set of parameters (by index), kept for the whole run
        self._splits: tensor_stats.Splits = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self._optimizer_index: dict[int, int] = {}
        self.optimizer_steps: list[int] = []
        self.optimizer_skipped: list[int] = []  # GradScaler steps that did not reach the optimizer
        self._skip_scales: dict[int, list[float | None]] = {}
        self.stop_reason: StopReason = "steps"
        self.skipped: list[RawSkipped] = []
        self.manual_steps: list[RawStep] = []  # parameter updates made without an optimizer
        self.manual = ManualTracker()
        self._scaled: tuple[weakref.ref[torch.Tensor], torch.Tensor] | None = None
        self._loss_scaling = False  # a GradScaler is in use: gradients get unscaled in place
        self._step_scale: torch.Tensor | None = None
        self.states_before: dict[int, RawOptimizerState] = {}
        self.events: list[Event] = []
        self.steps: list[RawStep] = []
        self.stop_requested = False
        self.last_progress = time.monotonic()
        self.on_step: Any = None  # progress callback(step_index, steps_requested)
        self._window_started = time.monotonic()
        self._reset_window()
        self._current: RawStep | None = None
        self.module_seen: dict[int, tuple[int, int | None, int]] = {}  # id -> (order, line, step)
        self.event_values: dict[int, torch.Tensor] = {}  # event index -> value still on the device
        self._entry: int | None = None  # id of the first module that ran: the model's entry layer
        self._entry_input: torch.Tensor | None = None  # fingerprint of its latest input

    # -- registry -------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self._losses: list[torch.Tensor | None] = []
        self._backward_calls = 0
        self._grads_before: torch.Tensor | None = None
        self._grads_present_before = False
        self._stale: tuple[list[int], torch.Tensor] | None = None
        self._after_first: tuple[list[int], torch.Tensor] | None = None
        # the first backward's non-zero counts, and each gradient's (id, version) at that time:
        # when the step sees the very same, unmodified gradients it reuses these numbers
        self._first_counts: tuple[torch.Tensor | None, list[tuple[int, int]]] | None = None
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

    def _check_stop(self) -> None:
        """Once the run is over, every further hook call stops the loop again (see StopRun)."""
        if self.stop_requested:
            raise StopRun(self)

    def pending_losses(self) -> list[torch.Tensor | None]:
        """Losses of backward calls made after the last step (a loop that never stepped, say)."""
        return list(self._losses)

    # -- hooks ----------------------------------------------------------------------------
    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        self._check_stop()
        if self._entry is None:
            self._entry = id(module)
        if id(module) == self._entry and args and isinstance(args[0], torch.Tensor):
            # the latest input wins: a validation pass between steps is followed by the batch
            # that the next backward() is computed from
            self._entry_input = tensor_stats.fingerprint(args[0])
        if id(module) not in self.modules:
            self.modules[id(module)] = module
            self.module_seen[id(module)] = (len(self.module_seen), cell_line(self.filename),
                                            len(self.steps))
            for param in module.parameters(recurse=False):
                self._register_param(param)
        if self.probe.window is not None or self.probe.every_step:
            self.probe.on_forward(module, args, output)

    def before_backward(self, tensors: Any) -> None:
        self._check_stop()
        if not self.optimizers:
            self._check_manual_update()
            self.manual.note_graph(tensors)
        if self.probe.window is not None:
            self.probe.safely(self.probe.flow.on_backward, tensors)
        if self._backward_calls == 0:
            self._batch = self._entry_input
            self._stale = self._grads_by_param()
            self._grads_before, self._grads_present_before = self._existing_grads(self._stale)
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
            norms, counts = tensor_stats.norms_and_nonzero(grads, cache=self._splits,  # type: ignore[arg-type]
                                                           key=tuple(held))
            self._after_first = (held, norms)  # what the first backward() produced
            self._first_counts = (counts, [(id(g), g._version) for g in grads])  # type: ignore[union-attr]
            self._events_at_first = len(self.events)
        if step is not None and step.closure:
            step.inner_backwards += 1
            if step.inner_backwards == 1:  # a closure's first gradient is what the step starts from
                self._measure_grads(step)
        elif step is None and not self.optimizers:
            self.manual.take(self.params)

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        target = type(owner).__name__
        self._event("zero_grad", target=target, detail=f"set_to_none={set_to_none}")

    def on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._check_stop()
        index = self._register_optimizer(optimizer)
        self.manual.drop()
        if self._attempts(index) >= self.steps_requested:
            self.stop_requested = True  # it would take one step more than asked
            raise StopRun(self)
        stepped = self.optimizer_params(optimizer)
        self.probe.on_step_pre(self.params)
        if index not in self.states_before:
            self.states_before[index] = optimizer_state(optimizer, self._param_index)
        self._event("step", target=type(optimizer).__name__)
        closure = bool(args[1:]) or kwargs.get("closure") is not None
        step = RawStep(
            optimizer=index,
            losses=self._losses,
            backward_calls=self._backward_calls,
            lr=[g.get("lr") for g in optimizer.param_groups],
            grads_before=self._grads_before,
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
        step.tracked = list(range(len(self.params)))
        step.param_norms = tensor_stats.norms(self.params, self._splits, (-1, len(self.params)))
        step.stepped = stepped
        step.copies = tensor_stats.copies([self.params[i] for i in stepped], self._splits,
                                          tuple(stepped))
        self._measure_grads(step)
        self._current = step

    def on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        step = self._current
        if step is None:
            return
        self._current = None
        step.update_norms = tensor_stats.distances([self.params[i] for i in step.stepped],
                                                   step.copies)
        step.copies = tensor_stats.Copies()
        step.losses = step.losses + self._losses  # from a closure, if the step had one
        if step.batch is None:
            step.batch = self._batch  # a closure's forward pass
        step.backward_calls += self._backward_calls
        now = time.monotonic()
        step.duration_s = now - step.started
        self.steps.append(step)
        self._window_started = self.last_progress = now
        self._reset_window()
        self.optimizer_steps[step.optimizer] += 1
        self._after_attempt(len(self.steps) + len(self.skipped))

    def _attempts(self, index: int) -> int:
        """Steps an optimizer took: what `steps_requested` counts (GradScaler skips do not)."""
        return self.optimizer_steps[index]

    def _after_attempt(self, done: int) -> None:
        if self.on_step is not None:
            self.on_step(done, self.steps_requested)
        attempts = [self._attempts(i) for i in range(len(self.optimizers))] or [len(self.manual_steps)]
        self.probe.on_step_post(attempts, self.steps_requested, len(self.steps))
        if min(attempts) >= self.steps_requested:  # a GAN: both nets took N steps
            self.stop_requested = True
            raise StopRun(self)

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
        self._check_stop()
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
        value = None if scale is None else float(scale)  # GradScaler.step synced on found_inf already
        self._event("step_skipped", target=type(optimizer).__name__,
                    detail="GradScaler: inf/NaN grads", value=value)
        self._window_started = self.last_progress = time.monotonic()
        self._reset_window()
        self.optimizer_skipped[index] += 1
        if self.on_step is not None:
            self.on_step(len(self.steps) + len(self.skipped), self.steps_requested)
        self._stop_if_scaler_stuck(index, value)

    def _stop_if_scaler_stuck(self, index: int, scale: float | None) -> None:
        """Skips while the scale is still large are the scaler finding its range and do not count;
        skips at a scale below 1, or at a scale that `update()` never lowers, go on forever."""
        scales = self._skip_scales.setdefault(index, [])
        scales.append(scale)
        n = self.steps_requested
        if scale is not None and len(scales) >= n and (scale < 1.0 or scales[-n] == scale):
            self.stop_requested = True
            self.stop_reason = "skipped"
            raise StopRun(self)

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
        if self.optimizers or len(self.manual_steps) >= self.steps_requested:
            return
        saved = self.on_step, self.stop_requested
        self.on_step = None
        try:
            self._check_manual_update()
        except StopRun:
            pass
        finally:
            self.on_step, self.stop_requested = saved

    def _check_manual_update(self) -> None:
        """Before a backward(): did the parameters change since the last one, with no optimizer?"""
        found = self.manual.changed()
        if found is None:
            return
        snap, distances = found
        # Module parameters are always shown; a graph leaf (raw tensor) only once it was updated,
        # so an input with requires_grad does not pass for a parameter.
        moved = [d > 0 for d in distances.tolist()]
        keep = [i for i, t in enumerate(snap.tensors) if moved[i] or id(t) in self._param_index]
        index = {i: self._register_param(snap.tensors[i]) for i in keep}
        grads = [(index[i], k) for k, i in enumerate(snap.with_grad) if i in index]
        at = torch.tensor([k for _, k in grads], dtype=torch.long)
        step = RawStep(
            optimizer=MANUAL, losses=self._losses, backward_calls=self._backward_calls, lr=[],
            grads_before=self._grads_before, grads_present_before=self._grads_present_before,
            started=self._window_started,
            grad_params=[p for p, _ in grads], grad_norms=snap.grad_norms[at],
            grad_nonzero=snap.grad_nonzero[at], tracked=[index[i] for i in keep],
            param_norms=snap.param_norms[keep], stepped=[index[i] for i in keep],
            update_norms=distances[keep],
        )
        now = time.monotonic()
        step.duration_s = now - step.started
        self.manual_steps.append(step)
        self._insert_manual_event(len(self.manual_steps) - 1)
        self._window_started = self.last_progress = now
        self._reset_window()
        self._after_attempt(len(self.manual_steps))

    # -- measurements ---------------------------------------------------------------------
    def _measure_grads(self, step: RawStep) -> None:
        with_grad = [i for i in step.tracked if self.params[i].grad is not None]
        grads = [self.params[i].grad for i in with_grad]
        step.grad_params = with_grad
        first, counts = step.after_first, step.first_counts
        # reuse only when nothing ran between that backward() and this step but the step itself:
        # a GradScaler unscales and clip_grad_norm_ rescales in place, not always bumping versions
        untouched = len(self.events) - self._events_at_first == 1 and not self._loss_scaling
        if (untouched and first is not None and counts is not None and first[0] == with_grad
                and counts[1] == [(id(g), g._version) for g in grads]):  # type: ignore[union-attr]
            step.grad_norms, step.grad_nonzero = first[1], counts[0]  # untouched since backward
            return
        step.grad_norms, step.grad_nonzero = tensor_stats.norms_and_nonzero(
            grads, cache=self._splits, key=tuple(with_grad))  # type: ignore[arg-type]

    def _grads_by_param(self) -> tuple[list[int], torch.Tensor]:
        """Which known params hold a `.grad` now, and its norm each (on the device)."""
        held = [i for i, p in enumerate(self.params) if p.grad is not None]
        grads = [self.params[i].grad for i in held]
        return held, tensor_stats.norms(grads, self._splits, tuple(held))  # type: ignore[arg-type]

    @staticmethod
    def _existing_grads(held: tuple[list[int], torch.Tensor]) -> tuple[torch.Tensor | None, bool]:
        """Total norm of gradients already present before a step's first backward (None: none)."""
        if not held[0]:
            return None, False
        return held[1].square().sum().sqrt(), True

    # -- clipping and loss scaling ----------------------------------------------------------
    def on_clip(self, max_norm: Any, total_norm: Any) -> None:
        """`clip_grad_norm_` returned the norm the gradients had before it clipped them."""
        self._event("clip", target="clip_grad_norm_", detail=f"max_norm={max_norm}")
        if isinstance(total_norm, torch.Tensor):
            self.event_values[len(self.events) - 1] = total_norm.detach().reshape(()).float()


def optimizer_state(optimizer: torch.optim.Optimizer, param_index: dict[int, int]) -> RawOptimizerState:
    """Hyperparameters per group and the norm of every state buffer (scalars kept as values)."""
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    keys: list[tuple[int, str]] = []
    tensors: list[torch.Tensor] = []
    for param, state in optimizer.state.items():
        index = param_index.get(id(param))
        if index is None:
            continue
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                keys.append((index, name))
                tensors.append(value.detach().float() if value.numel() == 1 else value)
            elif isinstance(value, (int, float)):
                keys.append((index, name))
                tensors.append(torch.tensor(float(value)))
    values = None
    if tensors:
        flat = [t.reshape(()) if t.numel() == 1 else t for t in tensors]
        norms = [t.abs() if t.dim() == 0 else torch.linalg.vector_norm(t.float()) for t in flat]
        values = torch.stack([n.to(device=norms[0].device, dtype=torch.float32) for n in norms])
    return RawOptimizerState(groups, keys, values)
