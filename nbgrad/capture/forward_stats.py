"""Reductions on the device for the forward probe: each returns a small float32 vector, no host sync.

The probe keeps these vectors and pulls them to the host once, after the cell stopped. Nothing here
judges: the numbers are what a rule needs to decide (a distribution of slopes, not "saturated or
not"), so that a saved report can be judged again with other thresholds.

Memory: an activation or a model's output can be far larger than the model (a language model's
logits), so no reduction makes a float32 copy of a whole tensor. Large tensors are reduced piece by
piece (`tensor_stats.pieces`); a piece's temporaries are the most any function here allocates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from nbgrad.capture.tensor_stats import PIECE, pieces
from nbgrad.records import SLOPE_EDGES

# the largest slope of each activation: slopes are recorded as a share of it
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}
SUMMARY_FIELDS = ("mean", "std", "min", "max", "nonfinite")
ACTIVATION_FIELDS = ("mean_slope", "zero_fraction", "dead_units", "nonfinite")
SYMMETRY_FIELDS = ("weight_spread", "weight_scale", "grad_spread", "grad_scale")
_LOG_LOW, _LOG_HIGH = math.log10(SLOPE_EDGES[0]), math.log10(SLOPE_EDGES[-1])


def _float(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.is_complex():
        t = torch.view_as_real(t)
    return t if t.dtype == torch.float32 else t.float()


def _limit(t: torch.Tensor) -> int:
    """Elements per piece: small on a CPU (memory is the user's RAM); larger on an accelerator,
    where each piece costs kernel launches."""
    return PIECE if t.device.type == "cpu" else 4 * PIECE


def _float_pieces(t: torch.Tensor) -> Iterator[torch.Tensor]:
    x = t.detach()
    if x.is_complex():
        x = torch.view_as_real(x)
    for piece in pieces(x, _limit(x)):
        yield piece if piece.dtype == torch.float32 else piece.float()


def _together(*tensors: torch.Tensor, limit: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Pieces of same-shape tensors, cut at the same places."""
    first = tensors[0]
    if first.numel() <= limit or first.dim() == 0:
        yield tensors
    elif all(t.is_contiguous() for t in tensors):
        flats = [t.reshape(-1) for t in tensors]
        for start in range(0, first.numel(), limit):
            yield tuple(f[start:start + limit] for f in flats)
    elif first.shape[0] == 1:
        yield from _together(*(t[0] for t in tensors), limit=limit)
    else:
        rows = max(1, limit // max(first[0].numel(), 1))
        for parts in zip(*(t.split(rows) for t in tensors)):
            yield from _together(*parts, limit=limit)


Parts = tuple[torch.Tensor, ...]


def _combine(total: Parts | None, parts: Parts,
             merge: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Parts:
    """Running values over a tensor's pieces: the first piece's, then merged with each next."""
    return parts if total is None else tuple(merge(a, b) for a, b in zip(total, parts))


def summary(t: torch.Tensor) -> torch.Tensor:
    """mean, std, min, max over the finite values, and the count of NaN/Inf values.

    Piece by piece: each piece's count, mean and sum of squared deviations are merged as in
    Chan et al.'s parallel variance, which stays exact when the mean is far from zero."""
    if t.layout != torch.strided:
        t = t.coalesce()._values() if t.layout == torch.sparse_coo else t.values()
    if t.numel() == 0:
        return torch.full((5,), float("nan"))
    merged: tuple[torch.Tensor, ...] | None = None
    for x in _float_pieces(t):
        piece = _piece_summary(x)
        if merged is None:
            merged = piece
            continue
        n, mean, m2, low, high = merged
        count, piece_mean, piece_m2, piece_low, piece_high = piece
        total = n + count
        delta = piece_mean - mean
        share = count / total.clamp(min=1)
        merged = (total, mean + delta * share, m2 + piece_m2 + delta * delta * n * share,
                  torch.minimum(low, piece_low), torch.maximum(high, piece_high))
    assert merged is not None
    n, mean, m2, low, high = merged
    std = (m2 / n.clamp(min=1)).sqrt()
    return torch.stack([mean, std, low, high, t.numel() - n])


def _piece_summary(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Count, mean, sum of squared deviations, min and max of one piece's finite values (its
    temporaries are gone when this returns)."""
    x = x.reshape(-1)
    finite = torch.isfinite(x)
    count = finite.sum().to(torch.float32)
    mean = torch.where(finite, x, 0.0).sum() / count.clamp(min=1)
    m2 = torch.where(finite, x - mean, 0.0).square_().sum()
    big = torch.finfo(x.dtype).max
    return (count, mean, m2, torch.where(finite, x, big).amin(),
            torch.where(finite, x, -big).amax())


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
    """Statistics of an activation's output `y`: (vector, units, samples).

    The vector holds ACTIVATION_FIELDS, then for sigmoid and tanh the distribution of the slope:
    the share of values whose slope, as a share of the function's largest, lies below
    SLOPE_EDGES[0], then in each interval between two edges. The slope is read off the output:
    sigmoid y(1-y), tanh 1-y^2, relu 1 where y > 0. A relu unit is dead when it is zero for every
    sample seen. `detailed=False` skips relu's zero fraction, the one costly count, for the
    every-step setting. `nonfinite` is 1 when any value is NaN/Inf.
    """
    y = y.detach()
    unit_dim, reduce = unit_layout(y.shape)
    units = y.shape[unit_dim] if y.dim() else 1
    samples = max(y.numel() // max(units, 1), 1) if reduce else 1
    count = max(y.numel(), 1)
    nan = y.new_full((), float("nan"), dtype=torch.float32)
    if kind == "relu":
        peak = y.amax(dim=reduce) if reduce else y.reshape(-1)  # NaN and Inf propagate
        dead = (peak <= 0).sum().float() if reduce else nan
        nonfinite = (~torch.isfinite(peak)).any().float()
        if detailed:
            # a tensor start: an output with no elements (no pieces) still gives a tensor
            zeros = sum(((p <= 0).sum(dtype=torch.int32) for p in pieces(y, _limit(y))),
                        y.new_zeros((), dtype=torch.int32))
            zero = zeros / count
        else:
            zero = nan
        return torch.stack([(1 - zero).float(), zero.float(), dead, nonfinite]), int(units), int(samples)
    sums: Parts | None = None
    for x in _float_pieces(y):
        sums = _combine(sums, _piece_slopes(kind, x), torch.add)
    assert sums is not None
    slope_sum, histogram = sums
    shares = histogram / count
    below = 1 - shares.sum()
    mean_slope = slope_sum / count * MAX_SLOPE[kind]
    head = torch.stack([mean_slope, nan, nan, (~torch.isfinite(slope_sum)).float()])
    return torch.cat([head, below.reshape(1), shares]), int(units), int(samples)


def _piece_slopes(kind: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of one piece's slopes (as a share of the largest), and their histogram over
    SLOPE_EDGES; one temporary the size of the piece."""
    # slope / largest slope = 1 - u^2, with u = 2y - 1 (sigmoid) or y (tanh)
    share = (x * 2 - 1).square_() if kind == "sigmoid" else x.square()
    share = share.neg_().add_(1)
    total = share.sum()
    histogram = torch.histc(share.clamp_(min=1e-30).log10_(), bins=len(SLOPE_EDGES) - 1,
                            min=_LOG_LOW, max=_LOG_HIGH)
    return total, histogram


def any_nonfinite(t: torch.Tensor) -> torch.Tensor:
    """True when `t` holds a NaN or Inf: its min and max carry them (one fast pass, no overflow)."""
    x = t.detach()
    if x.layout != torch.strided:
        x = x._values() if x.layout == torch.sparse_coo else x.values()
    if x.is_complex():
        x = torch.view_as_real(x)
    if x.numel() == 0:
        return x.new_zeros((), dtype=torch.bool)
    low, high = torch.aminmax(x)
    return ~(torch.isfinite(low) & torch.isfinite(high))


def _row_spread(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest difference of any row from row 0, and the largest |value| (rows along dim 0)."""
    x = t.detach().reshape(t.shape[0], -1)
    first = _float(x[:1])
    rows = max(1, _limit(x) // max(x.shape[1], 1))
    most: Parts | None = None
    for part in x.split(rows):
        part = _float(part)
        most = _combine(most, ((part - first).abs_().amax(), part.abs().amax()), torch.maximum)
    assert most is not None
    spread, scale = most
    return spread, scale


def symmetry(weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Largest difference of any row from row 0, and the largest value, of a weight and its gradient."""
    return torch.stack([*_row_spread(weight), *_row_spread(grad)])


def rms_distance(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean square of target - prediction (same shapes)."""
    total = None
    for p, t in _together(prediction.detach(), target.detach(), limit=_limit(prediction)):
        d = _float(t) - _float(p)
        part = torch.linalg.vector_norm(d).square()
        total = part if total is None else total + part
    assert total is not None
    return (total / max(prediction.numel(), 1)).sqrt()


def value_range(t: torch.Tensor, class_dim: int | None) -> torch.Tensor:
    """min, max and (for a class dim) the largest |sum over classes - 1| of a loss input."""
    x = t.detach()
    if x.is_complex():
        x = torch.view_as_real(x)
    if not x.is_floating_point():
        x = x.float()  # an integer loss input: small, and not what a model outputs
    low, high = torch.aminmax(x) if x.numel() else (x.new_full((), float("nan")),) * 2
    row = x.new_full((), float("nan"), dtype=torch.float32)
    if class_dim is not None and x.dim() > class_dim and x.numel():
        if class_dim == 0:
            row = (_float(x).sum(dim=0) - 1).abs().amax()
        else:
            rows = max(1, _limit(x) // max(x[0].numel(), 1))
            parts = [(_float(part).sum(dim=class_dim) - 1).abs().amax() for part in x.split(rows)]
            row = torch.stack(parts).amax() if len(parts) > 1 else parts[0]
    return torch.stack([low.float(), high.float(), row])


def label_range(labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """min and max of the class labels other than `ignore_index` (+inf, -inf when none is left)."""
    x = labels.detach()
    if x.numel() == 0:
        return torch.stack([x.new_full((), math.inf, dtype=torch.float64),
                            x.new_full((), -math.inf, dtype=torch.float64)])
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None
    for piece in pieces(x, _limit(x)):
        valid = piece != ignore_index
        wide = piece.to(torch.float64)
        part_low = torch.where(valid, wide, math.inf).amin()
        part_high = torch.where(valid, wide, -math.inf).amax()
        low = part_low if low is None else torch.minimum(low, part_low)
        high = part_high if high is None else torch.maximum(high, part_high)
    assert low is not None and high is not None
    return torch.stack([low, high])


def elementwise_alignment(grad: torch.Tensor, target: torch.Tensor,
                          prediction: torch.Tensor) -> torch.Tensor:
    """Cosine between minus the gradient and the direction towards the target."""
    sums: Parts | None = None
    for g, t, p in _together(grad.detach(), target.detach(), prediction.detach(),
                             limit=_limit(grad)):
        g = _float(g).reshape(-1)
        r = (_float(t) - _float(p)).reshape(-1)
        sums = _combine(sums, (-(g * r).sum(), g.square().sum(), r.square().sum()), torch.add)
    assert sums is not None
    dot, g2, r2 = sums
    return dot / (g2 * r2).sqrt().clamp(min=1e-30)


def class_alignment(grad: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cosine (weighted by gradient size) between minus the gradient on (N, C) scores and the
    direction that raises the labelled class against the others (one-hot minus 1/C)."""
    classes = grad.shape[1]
    rows = max(1, _limit(grad) // max(classes, 1))
    sums: Parts | None = None
    for g, lab in zip(grad.detach().split(rows), labels.split(rows)):
        g = _float(g)
        valid = (lab >= 0) & (lab < classes)
        picked = g.gather(1, lab.clamp(0, classes - 1).reshape(-1, 1)).reshape(-1)
        towards = (-picked + g.mean(dim=1)) / ((classes - 1) / classes) ** 0.5
        parts = ((towards * valid).sum(), (torch.linalg.vector_norm(g, dim=1) * valid).sum())
        sums = _combine(sums, parts, torch.add)
    assert sums is not None
    num, den = sums
    return num / den.clamp(min=1e-30)
