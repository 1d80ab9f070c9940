"""Find the training objects the user holds before a cell runs: what a check promises to put back.

The search is bounded on purpose, so that it stays fast on any namespace and says clearly what it
covers: every top-level name that does not start with "_", and one level into what those names hold
(the values of a dict, the items of a list, tuple or set, the attributes of a plain object such as a
trainer's `.model`, the variables a function closes over). A module brings its whole tree, a
scheduler the optimizer it drives, an optimizer its parameters. Objects found deeper are not
restored; objects the cell creates are new and keep what the cell did to them.
"""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

MAX_ITEMS = 1000  # items of one container (attributes of one object) looked at; keeps big lists cheap

# IPython's own names: its output history holds whatever earlier cells returned (a torch.Generator
# from `torch.manual_seed(0)`, say), which is not the user's state
IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
_SKIP = (types.ModuleType, type, types.BuiltinFunctionType, types.MethodType, str, bytes,
         int, float, complex, bool, type(None), torch.Tensor)


@dataclass
class Found:
    """Training objects by kind, each with the name the user knows it by (first name found)."""

    modules: list[tuple[str, nn.Module]] = field(default_factory=list)
    optimizers: list[tuple[str, torch.optim.Optimizer]] = field(default_factory=list)
    schedulers: list[tuple[str, Any]] = field(default_factory=list)
    scalers: list[tuple[str, Any]] = field(default_factory=list)
    tensors: list[tuple[str, torch.Tensor]] = field(default_factory=list)  # hand-made parameters
    generators: list[tuple[str, Any]] = field(default_factory=list)  # RNG objects the user holds
    _seen: set[int] = field(default_factory=set)

    def tensor_bytes(self) -> int:
        """Bytes of the tensors a snapshot of these objects copies (each tensor once)."""
        tensors: dict[int, torch.Tensor] = {}

        def add(t: Any) -> None:
            if isinstance(t, nn.parameter.UninitializedTensorMixin):
                return  # a lazy module's parameter has no data yet (and is not copied)
            if isinstance(t, torch.Tensor) and id(t) not in tensors:
                tensors[id(t)] = t
                if t.is_leaf and t.grad is not None:
                    add(t.grad)

        for _, module in self.modules:
            for t in [*module.parameters(), *module.buffers()]:
                add(t)
        for _, opt in self.optimizers:
            for group in opt.param_groups:
                for t in group["params"]:
                    add(t)
            for state in opt.state.values():
                for value in state.values() if isinstance(state, dict) else ():
                    add(value)
        for _, t in self.tensors:
            add(t)
        return sum(t.numel() * t.element_size() for t in tensors.values())

    def names(self) -> list[str]:
        """The user-facing names of everything found, grouped by kind."""
        return [n for group in (self.modules, self.optimizers, self.schedulers, self.scalers,
                                self.tensors, self.generators) for n, _ in group]


def _scheduler_types() -> tuple[type, ...]:
    from torch.optim import lr_scheduler

    kinds = [lr_scheduler.LRScheduler]
    if not issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler):  # older torch
        kinds.append(lr_scheduler.ReduceLROnPlateau)
    return tuple(kinds)


def _scaler_types() -> tuple[type, ...]:
    kinds: list[type] = []
    for owner in ("torch.amp", "torch.cuda.amp"):
        scaler = getattr(sys.modules.get(owner), "GradScaler", None)
        if isinstance(scaler, type):
            kinds.append(scaler)
    return tuple(kinds)


def _generator_types() -> tuple[type, ...]:
    kinds: list[type] = [torch.Generator, random.Random]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        kinds += [numpy.random.Generator, numpy.random.RandomState]
    return tuple(kinds)


class _Search:
    def __init__(self) -> None:
        self.found = Found()
        self.schedulers = _scheduler_types()
        self.scalers = _scaler_types()
        self.generators = _generator_types()

    def group(self, value: Any) -> list[tuple[str, Any]] | None:
        """Where a training object of this kind is listed; None for anything else."""
        found = self.found
        if isinstance(value, nn.Module):
            return found.modules
        if isinstance(value, torch.optim.Optimizer):
            return found.optimizers
        if isinstance(value, self.schedulers):
            return found.schedulers
        if self.scalers and isinstance(value, self.scalers):
            return found.scalers
        if isinstance(value, torch.Tensor):
            return found.tensors if value.is_leaf and value.requires_grad else None
        if isinstance(value, self.generators):
            return found.generators
        return None

    def add(self, name: str, value: Any) -> bool:
        """Record `value` if it is a training object; True when it is one (found now or before)."""
        group = self.group(value)
        if group is None:
            return False
        if id(value) not in self.found._seen:
            self.found._seen.add(id(value))
            group.append((name, value))
            self._follow(name, value)
        return True

    def _follow(self, name: str, value: Any) -> None:
        """What a scheduler drives is part of it (its optimizer, the schedulers it chains)."""
        if isinstance(value, self.schedulers):
            optimizer = getattr(value, "optimizer", None)
            if isinstance(optimizer, torch.optim.Optimizer):
                self.add(f"{name}.optimizer", optimizer)
            for i, inner in enumerate(getattr(value, "_schedulers", None) or []):
                self.add(f"{name}._schedulers[{i}]", inner)


def _inside(value: Any) -> Iterator[tuple[str, Any]]:
    """One level into a value: (how to name it, item) pairs, at most MAX_ITEMS of them.

    The name is a format string for the holder's name, filled only for what is kept (the repr of
    a dict key can be costly)."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = ((("[{!r}]", k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((("[{}]", i), v) for i, v in enumerate(value))
    elif isinstance(value, (set, frozenset)):
        items = ((("[{}]", "..."), v) for v in value)
    elif isinstance(value, types.FunctionType):
        cells = value.__closure__ or ()
        items = (((".{}", var), _cell(c)) for var, c in zip(value.__code__.co_freevars, cells))
    elif isinstance(value, _SKIP) or (callable(value) and not hasattr(value, "__dict__")):
        return
    else:
        try:
            attrs = object.__getattribute__(value, "__dict__")
        except Exception:
            return
        if not isinstance(attrs, dict):
            return
        items = (((".{}", k), v) for k, v in attrs.items() if isinstance(k, str))
    for count, pair in enumerate(items):
        if count >= MAX_ITEMS:
            return
        yield pair


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell: the variable is not bound yet
        return None


def find(namespace: Mapping[str, Any], extra: Iterable[tuple[str, Any]] = ()) -> Found:
    """Training objects in `namespace` (and `extra` pairs, e.g. a checked function's closure)."""
    search = _Search()
    top = [(k, v) for k, v in list(namespace.items())
           if isinstance(k, str) and not k.startswith("_") and k not in IPYTHON_NAMES]
    top += list(extra)
    holders = []
    for name, value in top:
        try:
            if not search.add(name, value):
                holders.append((name, value))
        except Exception:  # a proxy whose isinstance() raises, say: not ours to restore
            continue
    for name, value in holders:
        try:
            for (form, key), inner in _inside(value):
                if search.group(inner) is not None:
                    search.add(name + form.format(key), inner)
        except Exception:  # a container that changes while read, an odd __dict__: skip it
            continue
    return search.found
