"""GradScaler: the steps it skipped, and losses reported without its scale.

`torch.amp.GradScaler.step` calls `optimizer.step()` only when the unscaled gradients are finite;
a skipped step fires no optimizer hook, so the scaler's `step` is wrapped to notice it. Its `scale`
is wrapped so that the loss in the report is the one the user computed, not `loss * scale`.
"""

from __future__ import annotations

import functools
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from nbgrad.capture import tensor_stats
from nbgrad.capture.events import EventLog
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.capture.watcher import Known, Watcher, Window
from nbgrad.records import SkippedStep

if TYPE_CHECKING:
    from nbgrad.capture.recorder import Recorder

Guard = Callable[[Callable[..., Any]], Callable[..., Any]]


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


class LossScaling(Watcher):
    """A GradScaler's scale during each step, the steps it skipped, and the user's own loss in
    place of `loss * scale`."""

    def __init__(self, known: Known, window: Window, events: EventLog, steps_requested: int) -> None:
        self.known = known
        self.window = window
        self.events = events
        self.steps_requested = steps_requested
        self.in_use = False  # a GradScaler is in use: gradients get unscaled in place
        self.step_scale: torch.Tensor | None = None
        self.skipped: list[RawSkipped] = []
        self.skipped_by: dict[int, int] = {}  # optimizer index -> steps skipped
        self.stuck = False  # the scaler skips for good (see `_note_scale`)
        self._scaled: tuple[weakref.ref[torch.Tensor], torch.Tensor] | None = None
        self._scales: dict[int, list[torch.Tensor | None]] = {}

    def note_scaled(self, loss: Any, scaled: Any) -> None:
        """`scaler.scale(loss)` returned `scaled`: a backward() on it reports `loss` (loss * scale
        may even have overflowed to inf)."""
        self.in_use = True
        if isinstance(loss, torch.Tensor) and isinstance(scaled, torch.Tensor):
            value = tensor_stats.scalar(loss)
            if value is not None:
                self._scaled = (weakref.ref(scaled), value)

    def user_loss(self, first: Any, loss: torch.Tensor | None) -> torch.Tensor | None:
        """The loss a backward() on `first` reports: the user's, when `first` is its scaled copy."""
        if self._scaled is not None and self._scaled[0]() is first:
            loss = self._scaled[1]  # the user's loss, not loss * scale
            self._scaled = None
        return loss

    def before_scaler_step(self, scale: torch.Tensor | None) -> None:
        self.step_scale = None if scale is None else scale.detach().to(torch.float32).clone()

    def after_scaler_step(self, optimizer: torch.optim.Optimizer, steps_before: int,
                          steps_now: int) -> bool:
        """`GradScaler.step` returned: True when it skipped the step (no new step was recorded),
        which is then recorded here."""
        scale, self.step_scale = self.step_scale, None
        if steps_now != steps_before or not isinstance(optimizer, torch.optim.Optimizer):
            return False
        index = self.known.optimizer(optimizer)
        window = self.window
        with_grad = [i for i in self.known.optimizer_params(optimizer)
                     if self.known.params[i].grad is not None]
        self.skipped.append(RawSkipped(
            after_step=steps_now, optimizer=index, losses=window.losses,
            backward_calls=window.backward_calls, grad_scale=scale, grad_params=with_grad,
            grad_norms=tensor_stats.norms(self.known.grads(with_grad)),
        ))
        self.events.add("step_skipped", target=type(optimizer).__name__,
                        detail="GradScaler: inf/NaN grads", value=scale)
        window.reset(started=time.monotonic())
        self.skipped_by[index] = self.skipped_by.get(index, 0) + 1
        self._note_scale(index, scale)
        return True

    def _note_scale(self, index: int, scale: torch.Tensor | None) -> None:
        """Skips while the scale is still large are the scaler finding its range and do not count;
        skips at a scale below 1, or at a scale that `update()` never lowers, go on forever.

        The scales stay on the device; they are read (one transfer) only once a run has seen
        `steps_requested` skips, which a scaler that finds its range does not reach."""
        scales = self._scales.setdefault(index, [])
        scales.append(scale)
        n = self.steps_requested
        earlier = scales[-n] if len(scales) >= n else None
        if scale is None or earlier is None:
            return
        now, then = torch.stack([scale, earlier.to(scale.device)]).tolist()
        self.stuck = now < 1.0 or now == then

    def gather(self, batch: HostBatch) -> None:
        for skipped in self.skipped:
            batch.add_all([*skipped.losses, skipped.grad_scale, skipped.grad_norms])

    def records(self, names: list[str], batch: HostBatch) -> list[SkippedStep]:
        out = []
        for raw in self.skipped:
            norms = batch.get(raw.grad_norms)
            out.append(SkippedStep(
                after_step=raw.after_step, optimizer=raw.optimizer,
                losses=[batch.scalar(v) for v in raw.losses],
                backward_calls=raw.backward_calls,
                grad_scale=batch.scalar(raw.grad_scale),
                nonfinite_params=[names[i] for i, n in zip(raw.grad_params, norms)
                                  if not math.isfinite(n)],
            ))
        return out


def _scale_of(scaler: Any) -> torch.Tensor | None:
    scale = getattr(scaler, "_scale", None)
    return scale if isinstance(scale, torch.Tensor) else None


def wrap_scale(recorder: Recorder, guard: Guard) -> Callable[[Any], Any]:
    note = guard(recorder.scaling.note_scaled)

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def scale(scaler: Any, outputs: Any) -> Any:
            result = original(scaler, outputs)
            if result is not outputs:  # a disabled scaler returns its input
                note(outputs, result)
            return result

        return scale

    return wrap


def wrap_step(recorder: Recorder, guard: Guard) -> Callable[[Any], Any]:
    before = guard(recorder.before_scaler_step)
    after = guard(recorder.after_scaler_step)

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def step(scaler: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            if not getattr(scaler, "_enabled", True):
                return original(scaler, optimizer, *args, **kwargs)
            before(_scale_of(scaler))
            steps_before = len(recorder.steps)
            result = original(scaler, optimizer, *args, **kwargs)
            after(optimizer, steps_before)
            return result

        return step

    return wrap
