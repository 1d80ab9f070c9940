"""The run's event log: backward(), zero_grad(), step, clip, skipped and manual steps, in order.

Each event carries the cell line it came from and how many steps were recorded before it, so the
rules can tell "zero_grad after backward" from "zero_grad before it". A value measured with an
event (a clip's norm, a skipped step's scale) stays on the device until the run is over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from nbgrad.capture.callsite import cell_line
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.capture.watcher import Watcher
from nbgrad.records import Event, EventKind


class EventLog(Watcher):
    """Writes one `Event` per training call; `done()` is how many steps were recorded so far."""

    def __init__(self, filename: str, done: Callable[[], int]) -> None:
        self.filename = filename
        self.done = done
        self.events: list[Event] = []
        self.values: dict[int, torch.Tensor] = {}  # event index -> value still on the device

    def add(self, kind: EventKind, target: str = "", detail: str = "",
            value: torch.Tensor | None = None) -> None:
        self.events.append(Event(kind, self.done(), cell_line(self.filename), target, detail))
        if value is not None:
            self.values[len(self.events) - 1] = value

    def on_backward(self, tensors: Any) -> None:
        self.add("backward")

    def on_zero_grad(self, owner: Any, set_to_none: bool) -> None:
        self.add("zero_grad", target=type(owner).__name__, detail=f"set_to_none={set_to_none}")

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.add("step", target=type(optimizer).__name__)

    def on_clip(self, max_norm: Any, total_norm: Any) -> None:
        value = total_norm.detach().reshape(()).float() if isinstance(total_norm, torch.Tensor) \
            else None
        self.add("clip", target="clip_grad_norm_", detail=f"max_norm={max_norm}", value=value)

    def manual_update(self, index: int) -> None:
        """A manual update happened after the last backward(): later events belong to the next."""
        pos = len(self.events)
        while pos > 0 and self.events[pos - 1].kind != "backward":
            pos -= 1
        for event in self.events[pos:]:
            event.step += 1
        self.values = {i + (i >= pos): v for i, v in self.values.items()}
        self.events.insert(pos, Event("manual_update", index, None,
                                      detail="parameters changed in place after this backward()"))

    def gather(self, batch: HostBatch) -> None:
        batch.add_all(list(self.values.values()))

    def records(self, batch: HostBatch) -> list[Event]:
        values = {i: batch.scalar(v) for i, v in self.values.items()}
        return [dataclasses.replace(e, value=values[i]) if i in values else e
                for i, e in enumerate(self.events)]
