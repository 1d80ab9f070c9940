"""Facts about a run that several forward-pass rules read: the loss trend, the weighted layers in
the order they ran, initialisation scale, the activations between two layers, lines of the cell."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nbgrad.records import ActivationRecord, Run
from nbgrad.thresholds import STALL_MIN_DROP

NOT_WEIGHTS = {"Embedding", "EmbeddingBag", "Tensor"}  # rows are lookups, not units


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass
class LossTrend:
    first: float
    last: float
    steps: int

    @property
    def drop(self) -> float:
        """Relative fall of the loss from the first to the last recorded step (negative: rose)."""
        return (self.first - self.last) / abs(self.first) if self.first else 0.0

    @property
    def falling(self) -> bool:
        return self.drop >= STALL_MIN_DROP

    def text(self) -> str:
        return f"the loss went from {self.first:.4g} to {self.last:.4g} over {self.steps} steps"


def loss_trend(run: Run) -> LossTrend | None:
    """The first loss of each step, from the first step to the last; None with under 2 steps."""
    values = [s.losses[0] for s in run.steps if s.losses and s.losses[0] is not None]
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return None
    return LossTrend(values[0], values[-1], len(values))


def loss_nonfinite(run: Run) -> bool:
    return any(v is not None and not math.isfinite(v) for s in run.steps for v in s.losses)


@dataclass
class WeightLayer:
    layer: str
    param: str
    rows: int
    numel: int


def weight_layers(run: Run) -> list[WeightLayer]:
    """Layers with a weight matrix (Linear, Conv, ...), in the order the forward pass ran them."""
    order = {name: i for i, name in enumerate(run.forward.order)}
    found = []
    for name, info in run.params.items():
        layer = run.layers.get(info.layer)
        if (len(info.shape) < 2 or layer is None or layer.type in NOT_WEIGHTS
                or info.layer not in order or not name.endswith("weight")):
            continue
        found.append(WeightLayer(info.layer, name, info.shape[0], info.numel))
    return sorted(found, key=lambda w: order[w.layer])


def grad_rms(run: Run, weight: WeightLayer) -> dict[int, float]:
    """Step -> the root mean square of the weight's gradient entries (size-free across layers)."""
    out = {}
    for step in run.steps:
        stats = step.params.get(weight.param)
        if stats is not None and finite(stats.grad_norm):
            out[step.index] = stats.grad_norm / math.sqrt(max(weight.numel, 1))  # type: ignore[operator]
    return out


def rms_ratios(run: Run, top: WeightLayer, bottom: WeightLayer) -> list[tuple[int, float]]:
    """(step, gradient RMS of `top` / that of `bottom`) for the steps where both are measured."""
    a, b = grad_rms(run, top), grad_rms(run, bottom)
    return [(s, a[s] / b[s]) for s in sorted(a) if b.get(s) and math.isfinite(a[s] / b[s])]


def init_gain(run: Run, weight: WeightLayer) -> float | None:
    """std(W) * sqrt(fan_in) at the first step, as ||W|| / sqrt(rows): LeCun's init gives 1."""
    for step in run.steps:
        stats = step.params.get(weight.param)
        if stats is not None:
            return stats.param_norm / math.sqrt(max(weight.rows, 1))
    return None


def activation_position(run: Run, act: ActivationRecord) -> int | None:
    """Where an activation sits in the forward order: just after the layer that fed it."""
    order = run.forward.order
    if act.after in order:
        return order.index(act.after)
    if act.source == "module" and act.layer in order:
        return order.index(act.layer)
    return None


def activations_between(run: Run, first: str, last: str, step: int) -> list[ActivationRecord]:
    """The activations of one window that ran after layer `first` and before layer `last`."""
    order = run.forward.order
    lo, hi = order.index(first), order.index(last)
    found = []
    for act in run.forward.activations:
        pos = activation_position(run, act)
        if act.step == step and pos is not None and lo <= pos < hi:
            found.append(act)
    return found


def describe(act: ActivationRecord) -> str:
    """How a student names an activation: 'F.sigmoid after fc1' or 'nn.Sigmoid (layer 1)'."""
    text = f"the {act.kind} layer '{act.layer}'" if act.source == "module" else f"{act.kind}()"
    if act.after:
        text += f" after '{act.after}'"
    return text


def source_line(run: Run, pattern: str) -> int | None:
    """The cell line matching the regular expression `pattern`, when exactly one line does."""
    hits = [i for i, text in enumerate(run.source.splitlines())
            if re.search(pattern, text) and not text.lstrip().startswith("#")]
    return run.first_line + hits[0] if len(hits) == 1 else None


def module_line(run: Run, act: ActivationRecord) -> int | None:
    """The line of an activation: its call for a function, its constructor for a module."""
    if act.source == "function":
        return act.line
    name = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}[act.kind]
    return source_line(run, rf"\b{name}\b")


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"
