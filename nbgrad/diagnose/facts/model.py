"""Facts about the model: weighted layers in the order they ran, how gradients compare across
them, initialisation scale, the activations between two layers, layers made anew at each step."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nbgrad.records import ActivationRecord, LayerInfo, Run
from nbgrad.thresholds import NEW_LAYER_REPEATS

NOT_WEIGHTS = {"Embedding", "EmbeddingBag", "Tensor"}  # rows are lookups, not units


@dataclass
class WeightLayer:
    layer: str
    param: str  # its weight matrix
    rows: int
    numel: int  # entries of all the layer's parameters (weight and bias)


def weight_layers(run: Run) -> list[WeightLayer]:
    """Layers with a weight matrix (Linear, Conv, ...), in the order the forward pass ran them."""
    order = {name: i for i, name in enumerate(run.forward.order)}
    found = []
    for name, info in run.params.items():
        layer = run.layers.get(info.layer)
        if (len(info.shape) < 2 or layer is None or layer.type in NOT_WEIGHTS
                or info.layer not in order or not name.endswith("weight")):
            continue
        numel = sum(run.params[p].numel for p in layer.params if p in run.params)
        found.append(WeightLayer(info.layer, name, info.shape[0], numel))
    return sorted(found, key=lambda w: order[w.layer])


def layer_grad_norm(run: Run, layer: str, step: int) -> float | None:
    """The layer's gradient norm at a step: the number the gradient tables show."""
    record = next((s for s in run.steps if s.index == step), None)
    stats = record.layers.get(layer) if record is not None else None
    return None if stats is None else stats.grad_norm


def grad_rms(run: Run, weight: WeightLayer) -> dict[int, float]:
    """Step -> root mean square of the layer's gradient entries: its gradient norm (as the
    tables show it) over the square root of its size, so that layers of any size compare."""
    out = {}
    for step in run.steps:
        stats = step.layers.get(weight.layer)
        norm = stats.grad_norm if stats is not None else None
        if norm is not None and math.isfinite(norm):
            out[step.index] = norm / math.sqrt(max(weight.numel, 1))
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


def created_in_forward(run: Run) -> list[list[LayerInfo]]:
    """Groups of layers of one type and shape that appeared anew at several later steps."""
    groups: dict[tuple[str, tuple[tuple[int, ...], ...]], list[LayerInfo]] = {}
    for layer in run.layers.values():
        if layer.first_step is None or layer.type == "Tensor":
            continue
        shapes = tuple(tuple(run.params[p].shape) for p in layer.params)
        groups.setdefault((layer.type, shapes), []).append(layer)
    found = []
    for layers in groups.values():
        later = {layer.first_step for layer in layers if layer.first_step}
        if len(later) >= NEW_LAYER_REPEATS:
            found.append(sorted(layers, key=lambda layer: layer.first_step or 0))
    return found
