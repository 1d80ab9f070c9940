"""What the class labels of one loss call show: a few small kernels, in the detail windows only.

Two questions a loss value alone cannot answer: has the model learnt anything that links an input
to its own label (compare the loss with the labels moved one sample along: a model that only
learnt the label frequencies scores the same), and do the targets hold padding that the loss
counts (one label that fills the end of most rows)?

Everything stays on the tensors' device, without a host synchronisation: label counts are made by
scatter_add over the model's classes (a fixed size), not by bincount (whose size needs the
largest label on the host).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

FIELDS = ("loss", "rolled_loss", "entropy", "distinct", "count", "pad_value", "pad_share",
          "pad_suffix_rows")


def _loss(function: str, scores: torch.Tensor, labels: torch.Tensor, ignore: int) -> torch.Tensor:
    if function == "nll_loss":
        return F.nll_loss(scores, labels, ignore_index=ignore)
    return F.cross_entropy(scores, labels, ignore_index=ignore)


def measure(function: str, prediction: torch.Tensor, target: torch.Tensor, ignore: int) -> torch.Tensor:
    """FIELDS of a class loss (cross_entropy / nll_loss with integer labels); NaN where unknown.

    Labels outside the model's classes are measured as ignored (the loss call itself raises on
    them, and a rule says so); on a GPU they would otherwise stop the device with an assert.
    """
    scores = prediction.detach().float()
    nan = scores.new_full((), math.nan)
    classes = scores.shape[1] if scores.dim() >= 2 else scores.shape[0]
    labels = target.detach()
    valid = (labels != ignore) & (labels >= 0) & (labels < classes)
    labels = torch.where(valid, labels, torch.full_like(labels, ignore))
    roll = labels.roll(1, 0) if labels.dim() and labels.shape[0] > 1 else None
    with torch.no_grad():
        loss = _loss(function, scores, labels, ignore)
        rolled = _loss(function, scores, roll, ignore) if roll is not None else nan
        freq = _counts(labels, valid, classes)
        count = freq.sum()
        p = freq / count.clamp(min=1)
        entropy = -(p * p.clamp(min=1e-30).log()).sum()
        entropy = torch.where(count > 0, entropy, nan)
        distinct = (freq > 0).float().sum()
        pad = _padding(labels, valid, freq) if labels.dim() == 2 else [nan, nan, nan]
    return torch.stack([v.reshape(()).float() for v in (loss, rolled, entropy, distinct, count, *pad)])


def _counts(labels: torch.Tensor, valid: torch.Tensor, classes: int) -> torch.Tensor:
    """How often each class occurs among the valid labels."""
    index = torch.where(valid, labels, torch.zeros_like(labels)).reshape(-1).long()
    return labels.new_zeros(classes, dtype=torch.float32).scatter_add_(
        0, index, valid.reshape(-1).float())


def _padding(labels: torch.Tensor, valid: torch.Tensor, freq: torch.Tensor) -> list[torch.Tensor]:
    """(N, T) labels: the most frequent one, its share, and the share of rows in which it forms
    a run at the end after some other label (what padding looks like)."""
    value = freq.argmax()
    is_value = (labels == value) & valid
    share = torch.where(freq.sum() > 0, is_value.float().mean(), freq.new_full((), math.nan))
    # a suffix: once the value starts, it never stops; and the row also holds something else
    monotone = (is_value[:, 1:].int() >= is_value[:, :-1].int()).all(dim=1)
    suffix = monotone & is_value[:, -1] & ~is_value[:, 0]
    return [value.float(), share, suffix.float().mean()]


MAX_LEVEL = 31  # class labels of a beginner's regression-on-classes mistake are small integers


def integer_levels(target: torch.Tensor) -> torch.Tensor:
    """How many different values a regression target holds when all are integers in [0,
    MAX_LEVEL] (NaN otherwise): class labels given to MSELoss look like that, real-valued targets
    do not. Counted into fixed bins, on the device."""
    x = target.detach().float().reshape(-1)
    if x.numel() == 0:
        return x.new_full((), math.nan)
    integer = ((x == x.round()) & (x >= 0) & (x <= MAX_LEVEL)).all()
    bins = x.new_zeros(MAX_LEVEL + 1).scatter_add_(
        0, x.nan_to_num(0.0).clamp(0, MAX_LEVEL).long(), torch.ones_like(x))  # NaN: no bin
    return torch.where(integer, (bins > 0).float().sum(), x.new_full((), math.nan))
