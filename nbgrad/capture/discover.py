"""Find the training objects the user holds before a cell runs, and which of them its code names.

The search reads only what plain Python containers hold, so that it has no effect on anything
else and stays fast on any namespace: the values of dicts (as stored, also in a dict subclass),
the items of lists, tuples, sets and deques, the instance `__dict__` of objects, the variables a
function closes over, the globals that a function from the user's own files uses, and the globals
of the user's own modules and classes. It never asks another kind of mapping for its items (an open
`np.load` archive decompresses every array it hands out, a `shelve` with writeback loads every
entry), never runs a property or `__getattr__`. It goes MAX_DEPTH levels below a top-level name
(`cfg['stage1']['model']`, `trainer.inner.model`, `mylib.model`), reads MAX_ITEMS items of one
container and MAX_VISITS objects in all.

A module brings its whole tree, a scheduler the optimizer it drives, an optimizer its parameters.
`Found.mentioned` holds the names the cell's code uses, and those its functions and classes use:
what hangs from such a name is copied before the cell; the rest only when the steps use it.
"""

from __future__ import annotations

import collections
import random
import re
import site
import sys
import sysconfig
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

MAX_ITEMS = 1000  # items of one container (attributes of one object) looked at
MAX_DEPTH = 4  # levels below a top-level name
MAX_VISITS = 20_000  # objects looked at in all: a namespace full of data costs no more

# IPython's own names: its output history holds whatever earlier cells returned (a torch.Generator
# from `torch.manual_seed(0)`, say), which is not the user's state
IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice,
          types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodType, property,
          types.GetSetDescriptorType, types.MemberDescriptorType, types.WrapperDescriptorType)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _library_paths() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(getattr(site, "getsitepackages", list)())
    paths.add(sys.prefix)
    return tuple(sorted(p for p in paths if p))


_LIBRARIES = _library_paths()


def user_file(filename: str | None) -> bool:
    """Code the user wrote (a notebook cell, their own .py files), not an installed library."""
    if not filename or filename.startswith("<frozen"):
        return False
    return filename.startswith("<") or not filename.startswith(_LIBRARIES)


@dataclass
class Found:
    """Training objects by kind, each with the name the user knows it by (first name found)."""

    modules: list[tuple[str, nn.Module]] = field(default_factory=list)
    optimizers: list[tuple[str, torch.optim.Optimizer]] = field(default_factory=list)
    schedulers: list[tuple[str, Any]] = field(default_factory=list)
    scalers: list[tuple[str, Any]] = field(default_factory=list)
    tensors: list[tuple[str, torch.Tensor]] = field(default_factory=list)  # hand-made parameters
    generators: list[tuple[str, Any]] = field(default_factory=list)  # RNG objects the user holds
    roots: dict[int, str] = field(default_factory=dict)  # id -> the top-level name it hangs from
    mentioned: set[str] | None = None  # names the code uses; None: take it that it uses them all
    _seen: set[int] = field(default_factory=set)

    def is_mentioned(self, obj: Any) -> bool:
        return self.mentioned is None or self.roots.get(id(obj)) in self.mentioned

    def tensor_bytes(self, objects: Iterable[Any] | None = None) -> int:
        """Bytes of the tensors a snapshot of `objects` (default: all found) copies, each once."""
        tensors: dict[int, torch.Tensor] = {}

        def add(t: Any) -> None:
            if nn.parameter.is_lazy(t):
                return  # a lazy module's parameter has no data yet (and is not copied)
            if isinstance(t, torch.Tensor) and id(t) not in tensors:
                tensors[id(t)] = t
                if t.is_leaf and t.grad is not None:
                    add(t.grad)

        if objects is None:
            objects = [obj for group in (self.modules, self.optimizers, self.tensors)
                       for _, obj in group]
        for obj in objects:
            tensor_sources(obj, add)
        return sum(t.numel() * t.element_size() for t in tensors.values())

    def names(self) -> list[str]:
        """The user-facing names of everything found, grouped by kind."""
        return [n for group in (self.modules, self.optimizers, self.schedulers, self.scalers,
                                self.tensors, self.generators) for n, _ in group]


def tensor_sources(obj: Any, add: Any) -> None:
    """Call `add` on each tensor a copy of this module, optimizer or tensor holds."""
    if isinstance(obj, nn.Module):
        for t in [*obj.parameters(), *obj.buffers()]:
            add(t)
    elif isinstance(obj, torch.optim.Optimizer):
        for group in obj.param_groups:
            for t in group["params"]:
                add(t)
        for state in obj.state.values():
            for value in state.values() if isinstance(state, dict) else ():
                add(value)
    else:
        add(obj)


def _scheduler_types() -> tuple[type, ...]:
    from torch.optim import lr_scheduler

    kinds: list[type] = [lr_scheduler.LRScheduler]
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
        self._kinds: dict[type, str] = {}

    def kind(self, value: Any) -> str:
        """What a value is, decided once per type (its real type: a proxy's `__class__` is not
        asked)."""
        tp = type(value)
        kind = self._kinds.get(tp)
        if kind is None:
            kind = self._kinds[tp] = self._classify(tp)
        return kind

    def _classify(self, tp: type) -> str:
        for kind, bases in (("atom", _ATOMS), ("module", nn.Module),
                            ("optimizer", torch.optim.Optimizer), ("scheduler", self.schedulers),
                            ("scaler", self.scalers), ("tensor", torch.Tensor),
                            ("generator", self.generators), ("dict", dict),
                            ("sequence", (list, tuple, collections.deque)),
                            ("set", (set, frozenset)), ("function", types.FunctionType),
                            ("pymodule", types.ModuleType), ("class", type),
                            ("mapping", Mapping)):
            if bases and issubclass(tp, bases):
                return kind
        return "object"

    def group(self, value: Any, kind: str) -> list[tuple[str, Any]] | None:
        """Where a training object of this kind is listed; None for anything else."""
        found = self.found
        if kind == "tensor":
            return found.tensors if value.is_leaf and value.requires_grad else None
        groups: dict[str, list[tuple[str, Any]]] = {
            "module": found.modules, "optimizer": found.optimizers, "scheduler": found.schedulers,
            "scaler": found.scalers, "generator": found.generators}
        return groups.get(kind)

    def add(self, name: str, value: Any, root: str, group: list[tuple[str, Any]]) -> None:
        if id(value) in self.found._seen:
            return
        self.found._seen.add(id(value))
        self.found.roots[id(value)] = root
        group.append((name, value))
        if group is self.found.schedulers:  # what a scheduler drives is part of it
            inners = [("optimizer", getattr(value, "optimizer", None))]
            inners += [(f"_schedulers[{i}]", inner)
                       for i, inner in enumerate(getattr(value, "_schedulers", None) or [])]
            for attr, inner in inners:
                inner_group = self.group(inner, self.kind(inner))
                if inner_group is not None:
                    self.add(f"{name}.{attr}", inner, root, inner_group)


# a path is named only when something is found there: (parent path, format, key) or a plain name
Path = Any


def _name(path: Path) -> str:
    if isinstance(path, str):
        return path
    parent, form, key = path
    return _name(parent) + form.format(key)


def _user_module(value: types.ModuleType) -> bool:
    return user_file(getattr(value, "__file__", None))


def _user_class(value: type) -> bool:
    module = sys.modules.get(getattr(value, "__module__", "") or "")
    return module is None or module.__name__ == "__main__" or _user_module(module)


def _inside(value: Any, kind: str, path: Path, home: Any) -> Iterator[tuple[Path, Any]]:
    """One level into a value, read as stored: (path, item) pairs. `home` is the `__name__` of
    the namespace searched: the globals of its own functions are searched already."""
    items: Iterable[tuple[Path, Any]]
    if kind == "dict":
        items = (((path, "[{!r}]", k), v) for k, v in dict.items(value))
    elif kind in ("sequence", "set"):
        base = next(k for k in (list, tuple, collections.deque, set, frozenset)
                    if isinstance(value, k))
        items = (((path, "[{}]", i if kind == "sequence" else "..."), v)
                 for i, v in enumerate(base.__iter__(value)))
    elif kind == "function":
        items = _function_items(value, path, home)
    elif kind == "pymodule":
        if not _user_module(value):
            return
        items = (((path, ".{}", k), v) for k, v in dict.items(vars(value))
                 if not k.startswith("__"))
    elif kind == "class":
        if not _user_class(value):
            return
        items = (((path, ".{}", k), v) for k, v in value.__dict__.items()
                 if not k.startswith("__"))
    elif kind == "object":
        try:
            attrs = object.__getattribute__(value, "__dict__")
        except Exception:
            return
        if not isinstance(attrs, dict):
            return
        items = (((path, ".{}", k), v) for k, v in dict.items(attrs) if isinstance(k, str))
    else:  # a tensor that is no parameter, another kind of mapping (its items may be costly)
        return
    for count, pair in enumerate(items):
        if count >= MAX_ITEMS:
            return
        yield pair


def _function_items(func: types.FunctionType, path: Path, home: Any
                    ) -> Iterator[tuple[Path, Any]]:
    """The variables a function closes over, and the globals of its own module that it uses."""
    code = func.__code__
    for var, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            yield (path, ".{}", var), cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue
    module = func.__globals__.get("__name__", "")
    if module == home or not user_file(code.co_filename):
        return
    for name in sorted(code_names(code)):
        if name in func.__globals__:
            yield f"{module}.{name}", func.__globals__[name]


def code_names(code: types.CodeType, limit: int = 200) -> set[str]:
    """The global and attribute names a code object and the functions nested in it use."""
    names: set[str] = set()
    stack = [code]
    while stack and limit:
        limit -= 1
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return names


def _code_of(value: Any) -> list[types.CodeType]:
    """The user's own code in a namespace value: a function, or the methods of a class or of the
    class of an object."""
    if isinstance(value, types.FunctionType):
        return [value.__code__] if user_file(value.__code__.co_filename) else []
    if isinstance(value, types.MethodType):
        return _code_of(value.__func__)
    kind = value if isinstance(value, type) else type(value)
    if kind.__module__ in ("builtins", "torch") or not _user_class(kind):
        return []
    codes = []
    for attr in list(kind.__dict__.values())[:MAX_ITEMS]:
        inner = getattr(attr, "__func__", attr)  # staticmethod, classmethod
        if isinstance(inner, property):
            inner = inner.fget
        if isinstance(inner, types.FunctionType) and user_file(inner.__code__.co_filename):
            codes.append(inner.__code__)
    return codes


def mentioned_names(source: str | None, top: list[tuple[str, Any]]) -> set[str] | None:
    """Names the cell's source uses, and those the user's own functions and classes use (the
    cell may call them). None without a source: everything counts as used."""
    if source is None:
        return None
    names = set(_IDENTIFIER.findall(source))
    for _, value in top:
        try:
            for code in _code_of(value):
                names |= code_names(code)
        except Exception:  # an odd object in the namespace: it contributes no names
            continue
    return names


def find(namespace: Mapping[str, Any], extra: Iterable[tuple[str, Any]] = (),
         source: str | None = None) -> Found:
    """Training objects in `namespace` (and `extra` pairs, e.g. a checked function's closure);
    `source` is the code about to run, for `Found.mentioned`."""
    search = _Search()
    top = [(k, v) for k, v in list(namespace.items())
           if isinstance(k, str) and not k.startswith("_") and k not in IPYTHON_NAMES]
    top += list(extra)
    search.found.mentioned = mentioned_names(source, top)
    home = namespace.get("__name__")
    queue: collections.deque[tuple[Path, Any, int, str]] = collections.deque(
        (name, value, 0, name) for name, value in top)
    visited: set[int] = set()
    while queue and len(visited) < MAX_VISITS:
        path, value, depth, root = queue.popleft()
        if id(value) in visited:
            continue
        visited.add(id(value))
        try:
            kind = search.kind(value)
            if kind == "atom":
                continue
            group = search.group(value, kind)
            if group is not None:
                search.add(_name(path), value, root, group)
                continue
            if depth < MAX_DEPTH:
                queue.extend((inner_path, inner, depth + 1, root)
                             for inner_path, inner in _inside(value, kind, path, home))
        except Exception:  # a proxy whose isinstance() raises, a container that changes while
            continue  # read: not ours to restore
    return search.found
