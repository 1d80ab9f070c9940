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
from nbgrad.capture.probe import Probe
from nbgrad.records import Event


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

    # -- registry -------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self._losses: list[torch.Tensor | None] = []
        self._backward_calls = 0
        self._grads_before: torch.Tensor | None = None
        self._grads_present_before = False

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

    def _event(self, kind: str, target: str = "", detail: str = "") -> None:
        line = cell_line(self.filename)
        self.events.append(Event(kind, len(self.steps), line, target, detail))  # type: ignore[arg-type]

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
        if id(module) not in self.modules:
            self.modules[id(module)] = module
            for param in module.parameters(recurse=False):
                self._register_param(param)
        if self.probe.window is not None or self.probe.every_step:
            self.probe.on_forward(module, args, output)

    def before_backward(self, tensors: Any) -> None:
        self._check_stop()
        if self._backward_calls == 0:
            self._grads_before, self._grads_present_before = self._existing_grads()
        self._backward_calls += 1
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        loss = tensor_stats.scalar(first) if isinstance(first, torch.Tensor) else None
        self._losses.append(loss)
        self._event("backward")

    def after_backward(self) -> None:
        step = self._current
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
        )
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
        step.backward_calls += self._backward_calls
        now = time.monotonic()
        step.duration_s = now - step.started
        self.steps.append(step)
        self._window_started = self.last_progress = now
        self._reset_window()
        self.optimizer_steps[step.optimizer] += 1
        if self.on_step is not None:
            self.on_step(len(self.steps), self.steps_requested)
        self.probe.on_step_post(self.optimizer_steps, self.steps_requested, len(self.steps))
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

    def _existing_grads(self) -> tuple[torch.Tensor | None, bool]:
        """Total norm of gradients already present before a step's first backward (None: none)."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return None, False
        return tensor_stats.norms(grads).square().sum().sqrt(), True  # type: ignore[arg-type]


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
