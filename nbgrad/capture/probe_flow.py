"""Where the tensors of a detail window come from, and what was done to them on the way.

The probe's tags say which op made each tensor. This watcher adds, for each tensor, the graph cuts
it descends from (.detach(), .data, .item(), NumPy, torch.no_grad(), argmax, round), so that a rule
names the cut the loss was really computed through, not the first line that looks like one; and it
keeps the few other things a fix's line depends on: what backward() was called on, in-place
changes of tensors autograd needs, reshapes that reorder axes, softmax axes, recurrent layouts.

It runs right after each torch call in a window, before the probe re-tags the output, so that an
in-place op still sees who made the tensor it changes. Everything is bounded per run.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nbgrad.capture.callsite import cell_line, outside_cell
from nbgrad.capture.probe_raw import MAX_OPS_PER_WINDOW, VIEWS, Tag

if TYPE_CHECKING:
    from nbgrad.capture.probe import Probe

# calls whose result is a plain value, not a tensor: the history ends there
NON_TENSOR_CUTS = {"item": ".item()", "tolist": ".tolist()", "numpy": ".numpy()",
                   "__float__": "float()", "__int__": "int()", "__array__": "numpy"}
# differentiable, but with a derivative of 0 wherever it exists: nothing flows back through them
ZERO_DERIVATIVE = {"round", "floor", "ceil", "sign", "trunc", "fix"}
NORMALISERS = {"softmax", "log_softmax", "sigmoid"}
RESHAPES = {"view", "reshape"}
INPLACE_OPERATORS = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__idiv__", "__ipow__",
                     "__imatmul__", "__setitem__"}
NOT_INPLACE = {"requires_grad_", "retain_grad", "share_memory_", "pin_memory", "zero_grad"}
MAX_CUTS = 64
MAX_RECORDS = 32  # of each other kind
MAX_TAINT = 4  # cuts remembered per tensor


@dataclass
class RawCut:
    kind: str
    op: str
    step: int
    line: int | None
    module: int | None
    source: tuple[str, int | str] | None  # ("module", id), ("param", id) or ("op", name)
    zero_derivative: bool = False
    reaches_backward: bool = False
    where: str = ""
    seq: int = 0  # when it was last made (the watcher's call counter)


@dataclass
class RawBackward:
    step: int
    line: int | None
    shape: list[int]
    requires_grad: bool
    has_graph: bool
    made_by: str
    made_line: int | None
    cuts: tuple[int, ...]
    cuts_before: list[int]


@dataclass
class RawInplace:
    op: str
    step: int
    line: int | None
    target_made_by: str
    target_line: int | None
    module: int | None


@dataclass
class RawReshape:
    op: str
    step: int
    line: int | None
    before: list[int]
    after: list[int]
    module: int | None
    where: str


@dataclass
class RawNormaliser:
    op: str
    step: int
    line: int | None
    dim: int | None
    shape: list[int]
    module: int | None
    where: str
    tags: list[Tag] = field(default_factory=list)  # its outputs: one may turn out to be the model's


@dataclass
class RawRecurrent:
    module: int
    type: str
    step: int
    batch_first: bool
    input_shape: list[int]
    line: int | None


def _tensors(args: Any, kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensor arguments of a call, one level into lists (torch.cat([a, b]))."""
    found = []
    for a in itertools.chain(args, kwargs.values()):
        if isinstance(a, torch.Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(b for b in a if isinstance(b, torch.Tensor))
    return found


def _merges(parts: list[int], whole: list[int]) -> bool:
    """`whole` is `parts` with neighbouring sizes multiplied together, in order."""
    i = 0
    for size in whole:
        product = 1
        while product < size and i < len(parts):
            product *= parts[i]
            i += 1
        if product != size:
            return False
    return i == len(parts)


def reorders(before: list[int], after: list[int]) -> bool:
    """The new shape holds the old sizes in an order they do not have ((N, H, W, C) -> (N, C, H,
    W), or (N, C, H, W) -> (N, H*W, C)), which only a permute followed by a reshape gives.
    Merging or splitting neighbouring axes, what view and reshape are for, does not count."""
    old = [d for d in before if d != 1]
    new = [d for d in after if d != 1]
    if len(old) < 2 or len(new) < 2 or len(old) > 6 or math.prod(old) != math.prod(new):
        return False
    if _merges(old, new) or _merges(new, old):
        return False
    order = list(range(len(old)))
    return any(_merges([old[i] for i in p], new) for p in itertools.permutations(order)
               if list(p) != order)


def _softmax_dim(name: str, args: Any, kwargs: dict[str, Any], rank: int) -> int | None:
    if name == "sigmoid":
        return None
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim is None:  # softmax's legacy default axis
        dim = 0 if rank in (0, 1, 3) else 1
    return dim % rank if isinstance(dim, int) and rank else None


class FlowWatcher:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.cuts: list[RawCut] = []
        self._cut_index: dict[tuple[Any, ...], int] = {}
        self.backwards: list[RawBackward] = []
        self.inplace: list[RawInplace] = []
        self.reshapes: list[RawReshape] = []
        self.normalisers: list[RawNormaliser] = []
        self.recurrent: list[RawRecurrent] = []
        self._seen: set[tuple[Any, ...]] = set()
        self._normaliser_index: dict[tuple[Any, ...], int] = {}
        self.seq = 0
        self._backward_seq = 0

    # -- each torch call in a window ----------------------------------------------------------------
    def after_call(self, name: str, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        window = self.probe.window
        if window is None or window.ops >= MAX_OPS_PER_WINDOW:
            return
        self.seq += 1
        inputs = _tensors(args, kwargs)
        if not inputs:
            return
        with_grad = [t for t in inputs if t.requires_grad]
        tags = [self.probe.find(t) for t in inputs]
        inherited = tuple(dict.fromkeys(c for tag in tags if tag is not None for c in tag.cuts))
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if first is not None and first.requires_grad and self._inplace(name):
            self._record_inplace(name, tags[0] if inputs[0] is first else self.probe.find(first))
        if not isinstance(out, torch.Tensor):
            kind = NON_TENSOR_CUTS.get(name)
            if kind is not None and first is not None and first.requires_grad:
                self._cut(kind, name, first)
            return
        own = None
        if with_grad and not out.requires_grad:
            kind = self._kind(name, func)
            own = None if kind is None else self._cut(kind, name, with_grad[0])
        elif with_grad and name in ZERO_DERIVATIVE:
            own = self._cut(f"{name}()", name, with_grad[0], zero=True)
        source = tags[0] if first is not None and inputs[0] is first else None
        if name in VIEWS and (source is None or out is first):
            return  # the probe tags only views of tensors it knows, and keeps an in-place one's tag
        tag = self.probe._tag(out)
        cuts = inherited if own is None else (own, *inherited)
        tag.cuts = tuple(dict.fromkeys(cuts))[:MAX_TAINT]
        if name in VIEWS and source is not None:
            tag.first_module, tag.normaliser = source.first_module, source.normaliser
        else:
            tag.first_module = None
            tag.normaliser = self._normaliser(name, args, kwargs, out, tag) \
                if name in NORMALISERS else None
        if name in RESHAPES and first is not None:
            self._reshape(name, list(first.shape), list(out.shape))

    @staticmethod
    def _inplace(name: str) -> bool:
        if name in INPLACE_OPERATORS:
            return True
        return name.endswith("_") and not name.startswith("_") and name not in NOT_INPLACE \
            and torch.is_grad_enabled()

    def _kind(self, name: str, func: Any) -> str | None:
        """What made a tensor without history from one with history; None: not a cut (`.grad`)."""
        if name == "__get__":
            attribute = getattr(getattr(func, "__self__", None), "__name__", "")
            return ".data" if attribute == "data" else None
        if name == "detach":
            return ".detach()"
        if torch.is_inference_mode_enabled():
            return "torch.inference_mode()"
        if not torch.is_grad_enabled():
            return "torch.no_grad()"
        return f"{name}()"

    def _module(self) -> int | None:
        window = self.probe.window
        return id(window.stack[-1]) if window is not None and window.stack else None

    def _cut(self, kind: str, op: str, source: torch.Tensor, zero: bool = False) -> int | None:
        window = self.probe.window
        assert window is not None
        line = cell_line(self.probe.filename)
        module = self._module()
        context = kind in ("torch.no_grad()", "torch.inference_mode()")
        key = (kind, line, None if context else module)
        index = self._cut_index.get(key)
        if index is None:
            if len(self.cuts) >= MAX_CUTS:
                return None
            tag = self.probe.find(source)
            origin: tuple[str, int | str] | None = None
            if isinstance(source, nn.Parameter):
                origin = ("param", id(source))
            elif tag is not None and (tag.first_module or tag.module) is not None:
                origin = ("module", tag.first_module or tag.module)  # type: ignore[assignment]
            elif tag is not None and tag.op:
                origin = ("op", tag.op)
            index = self._cut_index[key] = len(self.cuts)
            self.cuts.append(RawCut(kind, op, window.step, line, module, origin, zero,
                                    where=outside_cell(self.probe.filename)))
        self.cuts[index].seq = self.seq
        return index

    def _record_inplace(self, name: str, tag: Tag | None) -> None:
        window = self.probe.window
        line = cell_line(self.probe.filename)
        key = ("inplace", name, line)
        if window is None or key in self._seen or len(self.inplace) >= MAX_RECORDS:
            return
        self._seen.add(key)
        self.inplace.append(RawInplace(name, window.step, line, tag.op if tag else "",
                                       tag.line if tag else None, self._module()))

    def _reshape(self, name: str, before: list[int], after: list[int]) -> None:
        window = self.probe.window
        if window is None or len(self.reshapes) >= MAX_RECORDS or not reorders(before, after):
            return
        line = cell_line(self.probe.filename)
        key = ("reshape", line, tuple(before), tuple(after))
        if key in self._seen:
            return
        self._seen.add(key)
        self.reshapes.append(RawReshape(name, window.step, line, before, after, self._module(),
                                        outside_cell(self.probe.filename)))

    def _normaliser(self, name: str, args: Any, kwargs: dict[str, Any], out: torch.Tensor,
                    tag: Tag) -> int | None:
        window = self.probe.window
        assert window is not None
        line = cell_line(self.probe.filename)
        dim = _softmax_dim(name, args, kwargs, out.dim())
        module = self._module()
        key = (name, line, dim, out.dim(), module)
        index = self._normaliser_index.get(key)
        if index is None:
            if len(self.normalisers) >= MAX_RECORDS:
                return None
            index = self._normaliser_index[key] = len(self.normalisers)
            self.normalisers.append(RawNormaliser(name, window.step, line, dim, list(out.shape),
                                                  module, outside_cell(self.probe.filename)))
        record = self.normalisers[index]
        if len(record.tags) < 4:
            record.tags.append(tag)
        return index

    # -- module calls and backward() ----------------------------------------------------------------
    def on_recurrent(self, module: nn.RNNBase, first: Any) -> None:
        window = self.probe.window
        if (window is None or not isinstance(first, torch.Tensor) or len(self.recurrent) >= MAX_RECORDS
                or (id(module), window.step) in self._seen):
            return
        self._seen.add((id(module), window.step))
        self.recurrent.append(RawRecurrent(id(module), type(module).__name__, window.step,
                                           bool(module.batch_first), list(first.shape),
                                           cell_line(self.probe.filename)))

    def on_backward(self, tensors: Any) -> None:
        window = self.probe.window
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        if window is None or not isinstance(first, torch.Tensor) or len(self.backwards) >= MAX_RECORDS:
            return
        tag = self.probe.find(first)
        cuts = tag.cuts if tag is not None else ()
        for index in cuts:
            self.cuts[index].reaches_backward = True
        before = [i for i, c in enumerate(self.cuts) if c.seq > self._backward_seq]
        self._backward_seq = self.seq
        self.backwards.append(RawBackward(
            window.step, cell_line(self.probe.filename), list(first.shape), first.requires_grad,
            first.grad_fn is not None, tag.op if tag is not None else "",
            tag.line if tag is not None else None, cuts, before))
