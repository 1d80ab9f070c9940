"""What the hooks call: hands each call to the watchers, in order, and each recorded step to the
stop's owner and the progress callback.

The watchers (capture/watcher.py) keep device tensors (norms, counts, loss values); they become
plain numbers only in `finish.build_run()`, after the cell has stopped, so the steps themselves
never wait on the device: no `.item()`, no copy from one device to another, while the loop runs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nbgrad.capture import budget
from nbgrad.capture.amp import LossScaling
from nbgrad.capture.backwards import Backwards
from nbgrad.capture.events import EventLog
from nbgrad.capture.layers import Layers
from nbgrad.capture.manual import ManualUpdates
from nbgrad.capture.optimizer_state import OptimizerStates
from nbgrad.capture.probe import Probe
from nbgrad.capture.probe_records import ForwardWatcher
from nbgrad.capture.steps import OptimizerSteps, RawStep
from nbgrad.capture.stop import Stop
from nbgrad.capture.watcher import Gaps, Known, Watcher, Window, listeners

_compiling = torch.compiler.is_compiling  # on every module call: one lookup less


class Recorder:
    """Receives every hook call of one run and dispatches it to the watchers."""

    def __init__(self, filename: str, stop: Stop, activations: bool = False) -> None:
        self.filename = filename
        self.stop = stop  # decides when the run ends; each recorded step is reported to it
        self.steps_requested = stop.steps_requested
        self.on_step: Any = None  # progress callback(step_index, steps_requested)
        self.probe = Probe(filename, every_step=activations)  # what the forward pass shows
        self.known = Known()
        self.window = Window()
        self.gaps = Gaps()
        copies = budget.CopyBudget()  # whether the parameters may be copied at a step
        self.events = EventLog(filename, self._done)
        self.layers = Layers(filename, self.known, lambda: len(self.optimizer_steps.steps))
        self.scaling = LossScaling(self.known, self.window, self.events, self.steps_requested)
        self.manual = ManualUpdates(self.known, self.window, self.events, copies, self.gaps,
                                    self.steps_requested)
        self.backwards = Backwards(self.known, self.window, self.layers, self.scaling,
                                   self.events, self._counting)
        self.optimizer_steps = OptimizerSteps(self.known, self.window, self.events, self.scaling,
                                              copies, self.gaps, self._counting)
        self.forward = ForwardWatcher(self.probe, self.known)
        self.states = OptimizerStates(self.known)
        # the order matters: an update found before a backward() is a step of its own before that
        # backward's loss counts; a step's event is logged before the step is measured, and its
        # gradients are counted before the probe closes its window
        self.watchers: list[Watcher] = [self.manual, self.layers, self.backwards, self.events,
                                        self.optimizer_steps, self.forward, self.states,
                                        self.scaling]
        self._forward = listeners(self.watchers, "on_forward")
        self._backward = listeners(self.watchers, "on_backward")
        self._after_backward = listeners(self.watchers, "after_backward")
        self._zero_grad = listeners(self.watchers, "on_zero_grad")
        self._step = listeners(self.watchers, "on_step")
        self._after_step = listeners(self.watchers, "after_step")
        self._clip = listeners(self.watchers, "on_clip")

    # -- what the records are built from ----------------------------------------------------
    @property
    def params(self) -> list[torch.Tensor]:
        return self.known.params

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return self.known.optimizers

    @property
    def modules(self) -> dict[int, nn.Module]:
        return self.layers.modules

    @property
    def steps(self) -> list[RawStep]:
        return self.optimizer_steps.steps

    def pending_losses(self) -> list[torch.Tensor | None]:
        """Losses of backward calls made after the last step (a loop that never stepped, say)."""
        return list(self.window.losses)

    def finish(self) -> None:
        """After the run: what only the end shows (an update after the last backward())."""
        found = len(self.manual.steps)
        self.manual.finish()
        if len(self.manual.steps) > found:
            self._tell_probe()

    # -- hooks ----------------------------------------------------------------------------
    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        if _compiling():
            # torch.compile traces global hooks into the model's graph: nothing of nbgrad's may be
            # in it (frame walks break the graph). The compiled wrapper's own call, outside the
            # graph, registers the modules inside it.
            return
        self.stop.check()
        for hook in self._forward:
            hook(module, args, output)

    def before_backward(self, tensors: Any) -> None:
        self.stop.check()
        found = len(self.manual.steps)
        for hook in self._backward:
            hook(tensors)
            if len(self.manual.steps) > found:  # an update since the last backward(): a step
                found = len(self.manual.steps)
                self._stepped(found)

    def after_backward(self) -> None:
        for hook in self._after_backward:
            hook()

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        for hook in self._zero_grad:
            hook(owner, set_to_none)

    def on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.stop.check()
        index = self.known.optimizer(optimizer)
        self.stop.before_step(self.optimizer_steps.taken.get(index, 0))
        for hook in self._step:
            hook(optimizer, args, kwargs)

    def on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        done = len(self.steps)
        for hook in self._after_step:
            hook(optimizer)
        if len(self.steps) > done:
            self._stepped(len(self.steps) + len(self.scaling.skipped))

    def on_clip(self, max_norm: Any, total_norm: Any) -> None:
        for hook in self._clip:
            hook(max_norm, total_norm)

    # -- GradScaler (see capture/amp.py) ----------------------------------------------------
    def before_scaler_step(self, scale: torch.Tensor | None) -> None:
        self.stop.check()
        self.scaling.before_scaler_step(scale)

    def after_scaler_step(self, optimizer: torch.optim.Optimizer, steps_before: int) -> None:
        """`GradScaler.step` returned: no new step recorded means it skipped one."""
        if not self.scaling.after_scaler_step(optimizer, steps_before, len(self.steps)):
            return
        # a skipped step still shows an optimizer at work: the manual tracker stops, and the
        # optimizer's state before its first step is taken as for a step
        self.manual.on_step(optimizer, (), {})
        self.states.on_step(optimizer, (), {})
        if self.on_step is not None:
            self.on_step(len(self.steps) + len(self.scaling.skipped), self.steps_requested)
        self.stop.progress()
        if self.scaling.stuck:
            self.stop.scaler_stuck()

    # -- steps ------------------------------------------------------------------------------
    def _done(self) -> int:
        """Steps recorded so far, by an optimizer or by hand: what each event counts."""
        return len(self.optimizer_steps.steps) + len(self.manual.steps)

    def _counting(self) -> bool:
        """Non-zero counts are taken in the probe's windows (or on every step when asked)."""
        return self.probe.window is not None or self.probe.every_step

    def _taken(self) -> list[int]:
        """Steps each optimizer took (GradScaler skips do not count), or the manual updates."""
        taken = self.optimizer_steps.taken
        return [taken.get(i, 0) for i in range(len(self.known.optimizers))] or [len(self.manual.steps)]

    def _tell_probe(self) -> list[int]:
        taken = self._taken()
        self.probe.on_step_post(taken, self.steps_requested, len(self.steps))
        return taken

    def _stepped(self, done: int) -> None:
        """A step was recorded: report it, let the probe open its last window, and let the stop's
        owner decide whether the run is over."""
        if self.on_step is not None:
            self.on_step(done, self.steps_requested)
        self.stop.after_step(self._tell_probe())
