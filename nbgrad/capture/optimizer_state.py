"""Each optimizer's hyperparameters and state buffers, before its first step and after the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nbgrad.capture import tensor_stats
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.capture.watcher import Known, Watcher
from nbgrad.records import OptimizerState


@dataclass
class RawOptimizerState:
    groups: list[dict[str, Any]]
    keys: list[tuple[int, str]]  # (param index, buffer name)
    scalars: list[torch.Tensor | float | None]  # per key: a one-value buffer (None: see norms)
    norms: tensor_stats.Vector  # the norm of every other buffer, in key order


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


class OptimizerStates(Watcher):
    """Takes each optimizer's state when it first steps (or first skips a step), and again after
    the run: the report shows what the steps did to it."""

    def __init__(self, known: Known) -> None:
        self.known = known
        self.before: dict[int, RawOptimizerState] = {}
        self.after: list[RawOptimizerState] = []

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        index = self.known.optimizer(optimizer)
        if index not in self.before:
            self.before[index] = optimizer_state(optimizer, self.known.param_index)

    def gather(self, batch: HostBatch) -> None:
        """The state after the run is taken here, once the loop has stopped."""
        self.after = [optimizer_state(opt, self.known.param_index) for opt in self.known.optimizers]
        states = [self.before[i] for i in range(len(self.after))] + self.after
        for state in states:
            batch.add_all([s for s in state.scalars if isinstance(s, torch.Tensor)])
            batch.add(state.norms)

    def records(self, index: int, names: list[str],
                batch: HostBatch) -> tuple[OptimizerState, OptimizerState]:
        """Optimizer `index`'s state before its first step and after the run."""
        return _state(self.before[index], names, batch), _state(self.after[index], names, batch)


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a hyperparameter value."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else repr(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _state(raw: RawOptimizerState, names: list[str], batch: HostBatch) -> OptimizerState:
    buffers: dict[str, dict[str, float]] = {}
    norms = iter(batch.get(raw.norms))
    for (i, buffer), scalar in zip(raw.keys, raw.scalars):
        value: float | None
        if scalar is None:
            value = next(norms)
        elif isinstance(scalar, torch.Tensor):
            value = batch.scalar(scalar)
        else:
            value = scalar
        if value is not None:  # a one-value buffer is always gathered: never None here
            buffers.setdefault(names[i], {})[buffer] = value
    groups = [{k: plain(v) for k, v in g.items()} for g in raw.groups]
    return OptimizerState(groups=groups, buffers=buffers)
