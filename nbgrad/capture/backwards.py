"""What each backward() adds to the window of the next step: its loss, how many backward() calls
came, the gradients left over from before the first one, and those it produced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nbgrad.capture import tensor_stats
from nbgrad.capture.amp import LossScaling
from nbgrad.capture.events import EventLog
from nbgrad.capture.layers import Layers
from nbgrad.capture.watcher import Known, Watcher, Window


class Backwards(Watcher):
    """Fills the `Window` that the next step (optimizer or manual) takes; `counting()` says
    whether non-zero counts are taken now (in the probe's windows, or on every step)."""

    def __init__(self, known: Known, window: Window, layers: Layers, scaling: LossScaling,
                 events: EventLog, counting: Callable[[], bool]) -> None:
        self.known = known
        self.window = window
        self.layers = layers
        self.scaling = scaling
        self.events = events
        self.counting = counting

    def on_backward(self, tensors: Any) -> None:
        window = self.window
        if window.backward_calls == 0:
            entry_input = self.layers.take_input()
            if entry_input is not None:
                window.batch = tensor_stats.fingerprint(entry_input)
            window.stale = self.known.grads_by_param()
            window.grads_present_before = bool(window.stale[0])
        window.backward_calls += 1
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        loss = tensor_stats.scalar(first) if isinstance(first, torch.Tensor) else None
        window.losses.append(self.scaling.user_loss(first, loss))

    def after_backward(self) -> None:
        window = self.window
        if window.in_step or window.backward_calls != 1 or window.after_first is not None:
            return
        held = self.known.with_grad()
        grads = self.known.grads(held)
        norms, counts = tensor_stats.norms_and_nonzero(
            grads, nonzero=self.counting(), cache=self.known.layouts, key=("grad", *held))
        window.after_first = (held, norms)  # what the first backward() produced
        window.first_counts = (counts, [(id(g), g._version) for g in grads])
        window.events_at_first = len(self.events.events)
