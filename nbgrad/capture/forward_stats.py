"""Reductions on the device for the forward probe: each returns a small float32 vector, no host sync.

The probe keeps these vectors and pulls them to the host once, after the cell stopped.
"""

from __future__ import annotations

import math

import torch

from nbgrad.thresholds import SATURATION_SLOPE

# the largest slope of each activation, so that "saturated" means the same share of it for all
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}
SUMMARY_FIELDS = ("mean", "std", "min", "max", "nonfinite")
ACTIVATION_FIELDS = ("saturated_fraction", "mean_slope", "zero_fraction", "dead_units", "nonfinite")
SYMMETRY_FIELDS = ("weight_spread", "weight_scale", "grad_spread", "grad_scale")


def _stored(t: torch.Tensor) -> torch.Tensor:
    """A sparse tensor's stored values (its zeros are structure, like a graph's missing edges, and
    have no dense view to reshape); a dense tensor itself."""
    if t.layout == torch.strided:
        return t
    return t.coalesce().values() if t.layout == torch.sparse_coo else t.values()


def _float(t: torch.Tensor) -> torch.Tensor:
    t = _stored(t.detach())
    return t if t.dtype == torch.float32 else t.float()


def summary(t: torch.Tensor) -> torch.Tensor:
    """mean, std, min, max over the finite values, and the count of NaN/Inf values."""
    x = _float(t).reshape(-1)
    if x.numel() == 0:
        return torch.full((5,), float("nan"))
    finite = torch.isfinite(x)
    count = finite.sum()
    safe = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
    mean = safe.sum() / count.clamp(min=1)
    var = (torch.where(finite, x - mean, torch.zeros_like(x)) ** 2).sum() / count.clamp(min=1)
    big = torch.finfo(x.dtype).max
    low = torch.where(finite, x, torch.full_like(x, big)).amin()
    high = torch.where(finite, x, torch.full_like(x, -big)).amax()
    return torch.stack([mean, var.sqrt(), low, high, (x.numel() - count).to(x.dtype)])


def unit_layout(shape: torch.Size) -> tuple[int, tuple[int, ...]]:
    """(unit dim, dims reduced over) of an activation: what one 'unit' of a layer is.

    (N, F): a feature; (N, C, H, W) and (N, C, L, ...) of rank 4 and more: a channel; (N, L, D):
    the last dim (sequence models). A tensor without a batch dim has one sample per unit.
    """
    rank = len(shape)
    if rank <= 1:
        return 0, ()
    if rank == 2:
        return 1, (0,)
    if rank == 3:
        return 2, (0, 1)
    return 1, tuple(d for d in range(rank) if d != 1)


def activation(kind: str, y: torch.Tensor, detailed: bool = True) -> tuple[torch.Tensor, int, int]:
    """Statistics of an activation's output `y`: (vector of ACTIVATION_FIELDS, units, samples).

    The slope is the activation's derivative, read off its output: sigmoid y(1-y), tanh 1-y^2,
    relu 1 where y > 0. A sigmoid/tanh value is saturated where its slope is under
    SATURATION_SLOPE of the largest: |y - 1/2| > sqrt(1 - s)/2 for sigmoid, |y| > sqrt(1 - s) for
    tanh. A relu unit is dead when it is zero for every sample seen. Written with few passes over
    `y` (sums, a dot product, one comparison): `detailed=False` skips relu's zero fraction, the
    one costly count, for the every-step setting. `nonfinite` is 1 when any value is NaN/Inf.
    """
    y = _float(y)
    unit_dim, reduce = unit_layout(y.shape)
    units = y.shape[unit_dim] if y.dim() else 1
    samples = max(y.numel() // max(units, 1), 1) if reduce else 1
    count = max(y.numel(), 1)
    nan = torch.full((), float("nan"), device=y.device)
    if kind == "relu":
        peak = y.amax(dim=reduce) if reduce else y.reshape(-1)  # NaN and Inf propagate
        dead = (peak <= 0).sum().float() if reduce else nan
        nonfinite = (~torch.isfinite(peak)).any().float()
        zero = (y <= 0).sum(dtype=torch.int32) / count if detailed else nan
        stats = [nan, 1 - zero, zero, dead, nonfinite]
    else:
        flat = y.reshape(-1)
        square = torch.dot(flat, flat)  # NaN and Inf propagate
        slope = (flat.sum() - square) / count if kind == "sigmoid" else 1 - square / count
        center = 0.5 if kind == "sigmoid" else 0.0
        edge = math.sqrt(1 - SATURATION_SLOPE) * (0.5 if kind == "sigmoid" else 1.0)
        saturated = ((flat - center).abs_() > edge).sum(dtype=torch.int32) / count
        stats = [saturated, slope, nan, nan, (~torch.isfinite(square)).float()]
    return torch.stack([v.to(torch.float32) for v in stats]), int(units), int(samples)


def any_nonfinite(t: torch.Tensor) -> torch.Tensor:
    """True when `t` holds a NaN or Inf: its min and max carry them (one fast pass, no overflow)."""
    x = _stored(t.detach())
    if x.numel() == 0:
        return torch.zeros((), dtype=torch.bool, device=x.device)
    low, high = torch.aminmax(x.reshape(-1))
    return ~(torch.isfinite(low) & torch.isfinite(high))


def symmetry(weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Largest difference of any row from row 0, and the largest value, of a weight and its gradient."""
    w = _float(weight).reshape(weight.shape[0], -1)
    g = _float(grad).reshape(grad.shape[0], -1)
    return torch.stack([(w - w[:1]).abs().amax(), w.abs().amax(),
                        (g - g[:1]).abs().amax(), g.abs().amax()])


def rms_distance(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean square of target - prediction (same shapes)."""
    return (_float(target) - _float(prediction)).pow(2).mean().sqrt()


def value_range(t: torch.Tensor, class_dim: int | None) -> torch.Tensor:
    """min, max and (for a class dim) the largest |sum over classes - 1| of a loss input."""
    x = _float(t)
    if class_dim is not None and x.dim() > class_dim:
        row = (x.sum(dim=class_dim) - 1).abs().amax()
    else:
        row = torch.full((), float("nan"), device=x.device)
    return torch.stack([x.amin(), x.amax(), row])


def label_range(labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """min and max of the class labels other than `ignore_index` (+inf, -inf when none is left)."""
    x = labels.detach().to(torch.float64).reshape(-1)
    if x.numel() == 0:
        return x.new_tensor([math.inf, -math.inf])
    valid = labels.detach().reshape(-1) != ignore_index
    low = torch.where(valid, x, torch.full_like(x, math.inf)).amin()
    high = torch.where(valid, x, torch.full_like(x, -math.inf)).amax()
    return torch.stack([low, high])


def elementwise_alignment(grad: torch.Tensor, towards: torch.Tensor) -> torch.Tensor:
    """Cosine between minus the gradient and the direction towards the target."""
    d = -_float(grad).reshape(-1)
    r = towards.reshape(-1)
    return (d * r).sum() / (d.norm() * r.norm()).clamp(min=1e-30)


def class_alignment(grad: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cosine (weighted by gradient size) between minus the gradient on (N, C) scores and the
    direction that raises the labelled class against the others (one-hot minus 1/C)."""
    g = _float(grad)
    classes = g.shape[1]
    valid = (labels >= 0) & (labels < classes)
    picked = g.gather(1, labels.clamp(0, classes - 1).reshape(-1, 1)).reshape(-1)
    towards = (-picked + g.mean(dim=1)) / ((classes - 1) / classes) ** 0.5
    weight = g.norm(dim=1) * valid
    return (towards * valid).sum() / weight.sum().clamp(min=1e-30)
