"""What the hooks call: collects raw per-step tensors while the cell runs.

The recorder keeps device tensors (norms, counts, loss values) and converts them to plain numbers
only in `finish()`, after the cell has stopped, so the steps themselves never wait on the device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nbgrad.capture import tensor_stats
from nbgrad.capture.callsite import cell_line
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
    copies: list[torch.Tensor] = field(default_factory=list)
    update_norms: torch.Tensor | None = None
    duration_s: float = 0.0
    closure: bool = False
    inner_backwards: int = 0
    stale: tuple[list[int], torch.Tensor] | None = None  # grads held at the first backward
    after_first: tuple[list[int], torch.Tensor] | None = None  # grads right after it
    batch: torch.Tensor | None = None  # fingerprint of the first layer's input (same batch?)


@dataclass
class RawOptimizerState:
    groups: list[dict[str, Any]]
    keys: list[tuple[int, str]]  # (param index, buffer name)
    values: torch.Tensor | None


class Recorder:
    """Receives every hook call of one run."""

    def __init__(self, filename: str, steps: int) -> None:
        self.filename = filename
        self.steps_requested = steps
        self.params: list[torch.Tensor] = []
        self._param_index: dict[int, int] = {}
        self.modules: dict[int, nn.Module] = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self._optimizer_index: dict[int, int] = {}
        self.optimizer_steps: list[int] = []
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
        self._scaler_stepped = False
        self._skips: list[float] = []  # GradScaler scales of the skipped steps since the last step
        self.stop_reason: StopReason = "steps"
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
        return index

    def optimizer_params(self, optimizer: torch.optim.Optimizer) -> list[int]:
        return [self._register_param(p) for g in optimizer.param_groups for p in g["params"]]

    def _event(self, kind: str, target: str = "", detail: str = "",
               value: float | None = None) -> None:
        line = cell_line(self.filename)
        self.events.append(Event(kind, len(self.steps), line, target, detail,  # type: ignore[arg-type]
                                 value))

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

    def before_backward(self, tensors: Any) -> None:
        self._check_stop()
        if self._backward_calls == 0:
            self._batch = self._entry_input
            self._stale = self._grads_by_param()
            self._grads_before, self._grads_present_before = self._existing_grads(self._stale)
        self._backward_calls += 1
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        loss = tensor_stats.scalar(first) if isinstance(first, torch.Tensor) else None
        self._losses.append(loss)
        self._event("backward")

    def after_backward(self) -> None:
        step = self._current
        if step is None and self._backward_calls == 1 and self._after_first is None:
            self._after_first = self._grads_by_param()  # what the first backward() produced
        if step is not None and step.closure:
            step.inner_backwards += 1
            if step.inner_backwards == 1:  # a closure's first gradient is what the step starts from
                self._measure_grads(step)

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        target = type(owner).__name__
        self._event("zero_grad", target=target, detail=f"set_to_none={set_to_none}")

    def on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._check_stop()
        index = self._register_optimizer(optimizer)
        if self.optimizer_steps[index] >= self.steps_requested:
            self.stop_requested = True  # it would take one step more than asked
            raise StopRun(self)
        stepped = self.optimizer_params(optimizer)
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
            stale=self._stale,
            after_first=self._after_first,
            batch=self._batch,
        )
        self._scaler_stepped = True
        self._skips = []
        self._reset_window()  # a closure's backward calls during step() are counted afresh
        step.tracked = list(range(len(self.params)))
        step.param_norms = tensor_stats.norms(self.params)
        step.stepped = stepped
        step.copies = tensor_stats.copies([self.params[i] for i in stepped])
        self._measure_grads(step)
        self._current = step

    def on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        step = self._current
        if step is None:
            return
        self._current = None
        step.update_norms = tensor_stats.distances([self.params[i] for i in step.stepped],
                                                   step.copies)
        step.copies = []
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
        if self.on_step is not None:
            self.on_step(len(self.steps), self.steps_requested)
        if min(self.optimizer_steps) >= self.steps_requested:  # a GAN: both nets took N steps
            self.stop_requested = True
            raise StopRun(self)

    # -- measurements ---------------------------------------------------------------------
    def _measure_grads(self, step: RawStep) -> None:
        with_grad = [i for i in step.tracked if self.params[i].grad is not None]
        grads = [self.params[i].grad for i in with_grad]
        step.grad_params = with_grad
        step.grad_norms = tensor_stats.norms(grads)  # type: ignore[arg-type]
        step.grad_nonzero = tensor_stats.nonzero_counts(grads)  # type: ignore[arg-type]

    def _grads_by_param(self) -> tuple[list[int], torch.Tensor]:
        """Which known params hold a `.grad` now, and its norm each (on the device)."""
        held = [i for i, p in enumerate(self.params) if p.grad is not None]
        return held, tensor_stats.norms([self.params[i].grad for i in held])  # type: ignore[misc]

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

    def before_scaler_step(self) -> None:
        self._check_stop()
        self._scaler_stepped = False

    def after_scaler_step(self, scaler: Any, optimizer: torch.optim.Optimizer) -> None:
        """A GradScaler that found inf/NaN gradients returns without calling `optimizer.step()`.

        Skips while the scale is still large are the scaler finding its range; skips at a scale
        below 1, or at a scale that `update()` never lowered, go on forever: the run stops then.
        """
        if self._scaler_stepped:
            return
        scale = float(scaler.get_scale())
        self._event("step_skipped", target=type(optimizer).__name__, detail=f"scale={scale:g}",
                    value=scale)
        self._skips.append(scale)
        self.last_progress = time.monotonic()
        stuck = len(self._skips) >= self.steps_requested and (
            scale < 1.0 or self._skips[-self.steps_requested] == scale)
        if stuck:
            self.stop_requested = True
            self.stop_reason = "skipped"
            raise StopRun(self)


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
