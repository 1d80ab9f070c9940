"""GradScaler: the steps it skipped, and losses reported without its scale.

`torch.amp.GradScaler.step` calls `optimizer.step()` only when the unscaled gradients are finite;
a skipped step fires no optimizer hook, so the scaler's `step` is wrapped to notice it. Its `scale`
is wrapped so that the loss in the report is the one the user computed, not `loss * scale`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from nbgrad.capture.recorder import Recorder

Guard = Callable[[Callable[..., Any]], Callable[..., Any]]


def _scale_of(scaler: Any) -> torch.Tensor | None:
    scale = getattr(scaler, "_scale", None)
    return scale if isinstance(scale, torch.Tensor) else None


def wrap_scale(recorder: Recorder, guard: Guard) -> Callable[[Any], Any]:
    note = guard(recorder.note_scaled)

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
