"""The modules the run's forward passes went through, when and where each first ran, and the
model's latest input (to tell whether two steps saw the same batch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nbgrad.capture.callsite import cell_line
from nbgrad.capture.watcher import Known, Watcher


class Layers(Watcher):
    """Registers each module (and its parameters) at its first forward; `steps_done()` is how many
    optimizer steps were recorded so far."""

    def __init__(self, filename: str, known: Known, steps_done: Callable[[], int]) -> None:
        self.filename = filename
        self.known = known
        self.steps_done = steps_done
        self.modules: dict[int, nn.Module] = {}
        self.seen: dict[int, tuple[int, int | None, int]] = {}  # id -> (order, line, step)
        self._entry: int | None = None  # id of the first module that ran: the model's entry layer
        # its latest input, until the next backward() takes its fingerprint
        self._entry_input: torch.Tensor | None = None

    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        key = id(module)
        if self._entry is None:
            self._entry = key
        if key == self._entry and args and isinstance(args[0], torch.Tensor):
            # the latest input wins: a validation pass between steps is followed by the batch
            # that the next backward() is computed from
            self._entry_input = args[0]
        if key not in self.modules:
            self._register(module)

    def take_input(self) -> torch.Tensor | None:
        """The entry layer's latest input, once: the first backward() of a step fingerprints it."""
        found, self._entry_input = self._entry_input, None
        return found

    def _register(self, module: nn.Module) -> None:
        inner = getattr(module, "_orig_mod", None)  # torch.compile's wrapper around a model
        for m in [module, *(inner.modules() if isinstance(inner, nn.Module) else ())]:
            if id(m) in self.modules:
                continue
            self.modules[id(m)] = m
            self.seen[id(m)] = (len(self.seen), cell_line(self.filename), self.steps_done())
            for param in nn.Module.parameters(m, recurse=False):  # not an override
                self.known.param(param)
