"""What the windows add for the NaN, activation and regularisation rules.

- Operations with a singular point (log and sqrt at 0, a division by 0, the norm of a zero vector):
  how close their input came to it, and which operation on which line made that input. A NaN that
  appears between two windows is then traced to the operation that can make it.
- Which layer's output a Linear layer received unchanged (only reshaped): two Linear layers in a
  row compute one linear map.
- A loss function's value, so that what backward() was called on can be split into the loss and
  whatever was added to it (a penalty).

Values stay on the device; `build` pulls them to the host once, after the cell stopped.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nbgrad.capture.probe_raw import CLASS_LOSSES, ELEMENTWISE_LOSSES, Tag
from nbgrad.records import ForwardRecord, LayerFeed, SingularOp

if TYPE_CHECKING:
    from nbgrad.capture.probe import Probe

# operation name -> (kind, which argument matters: an index, or "out" for the output)
SINGULAR: dict[str, tuple[str, int | str]] = {
    "log": ("log", 0), "log_": ("log", 0), "log2": ("log", 0), "log10": ("log", 0),
    "div": ("div", 1), "div_": ("div", 1), "true_divide": ("div", 1), "divide": ("div", 1),
    "__truediv__": ("div", 1), "__itruediv__": ("div", 1), "__rdiv__": ("div", 0),
    "__rtruediv__": ("div", 0), "reciprocal": ("div", 0),
    "sqrt": ("sqrt", 0), "sqrt_": ("sqrt", 0), "rsqrt": ("sqrt", 0),
    "pow": ("pow", 0), "__pow__": ("pow", 0),
    "norm": ("norm", "out"), "linalg_vector_norm": ("norm", "out"), "cdist": ("norm", "out"),
}
STATS = ("closest", "zeros", "below")
MAX_PER_WINDOW = 200  # distinct (operation, line) pairs kept per window


@dataclass
class RawSingular:
    op: str
    kind: str
    step: int
    line: int | None
    module: int | None
    input_from: str
    input_from_line: int | None
    stats: torch.Tensor


@dataclass
class RawFeed:
    module: int
    fed_by: int
    step: int
    line: int | None


def _stats(kind: str, x: torch.Tensor) -> torch.Tensor:
    """closest (smallest input, |denominator| for a division), exact zeros, values below 0."""
    x = x.detach()
    x = (x if x.dtype == torch.float32 else x.float()).reshape(-1)
    if x.numel() == 0:
        return torch.tensor([float("nan"), 0.0, 0.0], device=x.device)
    finite = torch.where(torch.isfinite(x), x, torch.zeros_like(x) + float("inf"))
    closest = finite.abs().amin() if kind == "div" else finite.amin()
    zeros = (x == 0).sum().float()
    below = (x < 0).sum().float() if kind in ("log", "sqrt", "pow") else torch.zeros_like(zeros)
    return torch.stack([closest, zeros, below])


def _exponent_singular(value: Any) -> bool:
    """pow(x, e) has an infinite gradient (or value) at 0 when e < 1 and e is not 0."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value < 1 \
        and value != 0


class Details:
    """Collects the window records described in the module docstring."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.singular: list[RawSingular] = []
        self.feeds: list[RawFeed] = []
        self._seen: set[tuple[int, str, int | None, int | None]] = set()
        self._fed: set[tuple[int, int]] = set()

    def on_op(self, name: str, args: Any, out: torch.Tensor, line: int | None,
              module: int | None) -> None:
        window = self.probe.window
        if window is None:
            return
        if name in CLASS_LOSSES or name in ELEMENTWISE_LOSSES:
            self._loss_value(name, out)
        entry = SINGULAR.get(name)
        if entry is None:
            return
        kind, which = entry
        if kind == "pow":
            exponent = args[1] if len(args) > 1 else None
            if exponent is None or not _exponent_singular(exponent):
                return
            kind = "sqrt" if 0 < exponent < 1 else "div"
        key = (window.step, name, line, module)
        if key in self._seen or len(self._seen) >= MAX_PER_WINDOW * len(self.probe.windows):
            return
        x = (args[which] if len(args) > which else None) if isinstance(which, int) else out
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.layout != torch.strided:
            return  # a sparse tensor (a graph's adjacency) has no dense values to scan
        self._seen.add(key)
        source: Tag | None = self.probe.find(x) if which != "out" else self.probe.find(args[0])
        self.singular.append(RawSingular(
            op=name, kind=kind, step=window.step, line=line, module=module,
            input_from=source.op if source is not None else "",
            input_from_line=source.line if source is not None else None,
            stats=_stats(kind, x)))

    def _loss_value(self, name: str, out: torch.Tensor) -> None:
        records = self.probe.losses_seen.records
        if records and records[-1].function == name and records[-1].value is None \
                and out.is_floating_point() and out.numel() > 0:
            records[-1].value = out.detach().float().mean()

    def module_input(self, module: nn.Module, first: Any, line: int | None) -> None:
        """A Linear layer about to run: whose output is its input?"""
        window = self.probe.window
        if window is None or not isinstance(module, nn.Linear) or not isinstance(first, torch.Tensor):
            return
        tag = self.probe.find(first)
        if tag is None or tag.module is None or tag.module == id(module):
            return
        key = (window.step, id(module))
        if key not in self._fed:
            self._fed.add(key)
            self.feeds.append(RawFeed(id(module), tag.module, window.step, line))


def build(probe: Probe, record: ForwardRecord, layer: Callable[[int | str | None], str]) -> None:
    """Fill `record` with the details' host values (one transfer for all of them)."""
    details: Details = probe.details
    values: list[torch.Tensor] = [s.stats for s in details.singular]
    losses = [raw for raw in probe.losses_seen.records if raw.value is not None]
    values += [raw.value.reshape(1) for raw in losses if raw.value is not None]
    host: list[float] = []
    if values:
        device = values[0].device
        host = torch.cat([v.reshape(-1).to(device) for v in values]).cpu().tolist()
    for i, raw in enumerate(details.singular):
        closest, zeros, below = host[3 * i:3 * i + 3]
        record.singular_ops.append(SingularOp(
            op=raw.op, kind=raw.kind, step=raw.step, line=raw.line, layer=layer(raw.module),
            input_from=raw.input_from, input_from_line=raw.input_from_line,
            closest=closest if closest == closest and abs(closest) != float("inf") else None,
            zeros=int(zeros), below=int(below)))
    loss_values = dict(zip(map(id, losses), host[3 * len(details.singular):]))
    for call, seen in zip(record.losses, probe.losses_seen.records):
        call.reduction = seen.reduction
        call.value = loss_values.get(id(seen))
    for feed in details.feeds:
        record.feeds.append(LayerFeed(layer=layer(feed.module), fed_by=layer(feed.fed_by),
                                      fed_by_type=probe.types.get(feed.fed_by, ""),
                                      step=feed.step, line=feed.line))
