"""Copy the user's training state before a check, and put it back after, in place and bit for bit.

A check is a diagnostic, not training: the steps it runs must not change the experiment. Before the
cell runs, `take()` copies what `discover.find` found to host memory: parameter and buffer values,
`.grad` (or its absence), requires_grad, train/eval mode and structure of every submodule, optimizer
state, param groups and defaults, scheduler and GradScaler attributes, and the RNG states. `restore()`
writes the values back into the same tensor objects and refills the same containers (a module's
parameter dict, an optimizer's state), so every reference the user holds stays valid.

Memory: one host copy of that state, taken once (shared parameters are copied once); the restore
copies host -> device in place and allocates nothing on the device unless the cell dropped a tensor
(then a new one is made, as nobody can tell it apart). Tensors themselves are held weakly, so a
`.grad` that the cell sets to None is freed as it would be without nbgrad.
"""

from __future__ import annotations

import enum
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nbgrad.capture import budget, discover, rng_state
from nbgrad.records import RestoreInfo

_PLAIN = (bool, int, float, complex, str, bytes, type(None), enum.Enum, torch.dtype, torch.device,
          torch.layout, torch.memory_format)
_CONTAINERS = (dict, OrderedDict, defaultdict)
MAX_DEPTH = 6  # nesting copied inside one attribute (optimizer state: state -> param -> buffer)


class TensorCopy:
    """A host copy of one tensor, and how to find (or, if it was freed, remake) the original."""

    def __init__(self, tensor: torch.Tensor, store: Store) -> None:
        self._ref = weakref.ref(tensor)
        self.device = tensor.device
        self.is_param = isinstance(tensor, nn.Parameter)
        self.requires_grad = tensor.requires_grad
        if isinstance(tensor, nn.parameter.UninitializedTensorMixin):
            raise ValueError("it has lazy parameters that are not initialized yet")
        data = tensor.detach()
        self.host = data.clone() if data.device.type == "cpu" else data.to("cpu", copy=True)
        store.bytes += self.host.numel() * self.host.element_size()
        self.has_grad_slot = tensor.is_leaf
        grad = tensor.grad if tensor.is_leaf else None
        self.grad = None if grad is None else store.tensor(grad)
        self._back: torch.Tensor | None = None

    def restore(self) -> torch.Tensor:
        """The original tensor with its values, requires_grad and .grad as they were (once)."""
        if self._back is not None:
            return self._back
        tensor = self._ref()
        if tensor is None:  # the cell dropped it and nothing else held it: remake it
            tensor = self.host.to(self.device, copy=True)
            if self.is_param:
                tensor = nn.Parameter(tensor, requires_grad=self.requires_grad)
        else:
            _write(tensor, self.host)
        if tensor.is_leaf and tensor.requires_grad != self.requires_grad:
            tensor.requires_grad_(self.requires_grad)
        if self.has_grad_slot:
            tensor.grad = None if self.grad is None else self.grad.restore()
        self._back = tensor
        return tensor


def _write(tensor: torch.Tensor, host: torch.Tensor) -> None:
    with torch.no_grad():
        if tensor.shape == host.shape and tensor.dtype == host.dtype:
            try:
                tensor.copy_(host)
                return
            except RuntimeError:  # an inference tensor, or one whose elements overlap
                pass
        tensor.data = host.to(tensor.device, copy=True)


class Store:
    """Every tensor copied once, however many places hold it (tied weights, params in groups)."""

    def __init__(self) -> None:
        self.tensors: dict[int, TensorCopy] = {}
        self.bytes = 0

    def tensor(self, tensor: torch.Tensor) -> TensorCopy:
        copy = self.tensors.get(id(tensor))
        if copy is None or copy._ref() is not tensor:
            copy = self.tensors[id(tensor)] = TensorCopy(tensor, self)
        return copy

    def reset(self) -> None:
        for copy in self.tensors.values():
            copy._back = None


@dataclass
class _Same:
    """Put back this very object (immutable, or restored on its own, or not ours to copy)."""

    value: Any


@dataclass
class _ListCopy:
    original: list[Any] | tuple[Any, ...]
    items: list[Any]


@dataclass
class _DictCopy:
    original: dict[Any, Any]
    items: list[tuple[Any, Any]]


def freeze(value: Any, store: Store, depth: int = 0) -> Any:
    """A copy of `value` that keeps the identity of every container and tensor in it."""
    if isinstance(value, torch.Tensor):
        return store.tensor(value)
    if isinstance(value, _PLAIN) or depth >= MAX_DEPTH:
        return _Same(value)
    if type(value) in (list, tuple):
        return _ListCopy(value, [freeze(v, store, depth + 1) for v in value])
    if type(value) in _CONTAINERS:
        return _DictCopy(value, [(k, freeze(v, store, depth + 1)) for k, v in value.items()])
    return _Same(value)


def thaw(frozen: Any) -> Any:
    """The frozen value back: the same containers, refilled, so that containers shared between
    objects (a scheduler's `_last_lr` is its sub-scheduler's list) are shared again."""
    if isinstance(frozen, _Same):
        return frozen.value
    if isinstance(frozen, TensorCopy):
        return frozen.restore()
    if isinstance(frozen, _ListCopy):
        items = [thaw(f) for f in frozen.items]
        if isinstance(frozen.original, tuple):
            return tuple(items)
        frozen.original[:] = items
        return frozen.original
    pairs = [(k, thaw(f)) for k, f in frozen.items]
    frozen.original.clear()
    frozen.original.update(pairs)
    return frozen.original


class _ObjectCopy:
    """Chosen attributes of one object (all of them when `names` is None)."""

    def __init__(self, obj: Any, store: Store, names: tuple[str, ...] | None = None) -> None:
        self.obj = obj
        attrs = vars(obj)
        keys = list(attrs) if names is None else [n for n in names if n in attrs]
        self.whole = names is None
        self.attrs = {k: freeze(attrs[k], store) for k in keys}

    def restore(self) -> None:
        attrs = vars(self.obj)
        if self.whole:
            for key in [k for k in attrs if k not in self.attrs]:
                del attrs[key]
        for key, frozen in self.attrs.items():
            attrs[key] = thaw(frozen)


class _ModuleCopy:
    """Class, train/eval mode, parameters, buffers and children of one module (not its hooks)."""

    def __init__(self, module: nn.Module, store: Store) -> None:
        self.module = module
        self.kind = type(module)
        self.training = module.training
        self.dicts = {name: freeze(getattr(module, name), store)
                      for name in ("_parameters", "_buffers", "_modules")}

    def restore(self) -> None:
        module = self.module
        if type(module) is not self.kind:  # e.g. torch.nn.utils.parametrize swapped the class
            module.__class__ = self.kind
        for name, frozen in self.dicts.items():
            module.__dict__[name] = thaw(frozen)
        module.training = self.training


OPTIMIZER_ATTRS = ("state", "param_groups", "defaults")


class Snapshot:
    """The state of a namespace's training objects at one moment; `restore()` puts it back."""

    def __init__(self, found: discover.Found) -> None:
        self.store = Store()
        self.objects: list[str] = []
        self.failed: list[str] = []
        self.seconds = 0.0
        self._copies: list[Any] = []
        self._modules_done: set[int] = set()
        for name, module in found.modules:
            self._take(name, self._copy_module, module)
        for name, opt in found.optimizers:
            self._take(name, lambda o: [_ObjectCopy(o, self.store, OPTIMIZER_ATTRS)], opt)
        for name, obj in found.schedulers + found.scalers:
            self._take(name, lambda o: [_ObjectCopy(o, self.store)], obj)
        for name, tensor in found.tensors:
            self._take(name, lambda t: [self.store.tensor(t)], tensor)
        self.rng = rng_state.capture(found.generators)

    def _copy_module(self, module: nn.Module) -> list[_ModuleCopy]:
        """Each submodule once, also when several names reach it (a shared encoder)."""
        subs = [m for m in module.modules() if id(m) not in self._modules_done]
        copies = [_ModuleCopy(m, self.store) for m in subs]
        self._modules_done.update(id(m) for m in subs)
        return copies

    def _take(self, name: str, copy: Any, obj: Any) -> None:
        try:
            self._copies.extend(copy(obj))
        except Exception as error:
            self.failed.append(f"{name}: {type(error).__name__}: {error}")
            return
        self.objects.append(name)

    @property
    def bytes(self) -> int:
        return self.store.bytes

    def restore(self) -> RestoreInfo:
        """Put everything back; a part that fails is reported in `failed`, the rest still done."""
        started = time.perf_counter()
        failed = list(self.failed)
        self.store.reset()
        for copy in self._copies:
            try:
                copy.restore()
            except Exception as error:
                failed.append(f"{_describe(copy)}: {type(error).__name__}: {error}")
        rng, rng_failed = rng_state.restore(self.rng)
        return RestoreInfo(mode="restored", objects=list(self.objects), rng=rng, bytes=self.bytes,
                           snapshot_s=self.seconds, restore_s=time.perf_counter() - started,
                           failed=failed + rng_failed)


def _describe(copy: Any) -> str:
    obj = getattr(copy, "module", None) or getattr(copy, "obj", None)
    return type(obj).__name__ if obj is not None else "tensor"


def take(namespace: Mapping[str, Any], extra: list[tuple[str, Any]] | None = None) -> Snapshot:
    """Snapshot the training objects reachable from `namespace` (see `discover`).

    Refuses (NbgradUsageError, before anything ran) when the copy would not fit in host memory:
    running out of memory would kill the kernel and lose the whole session.
    """
    started = time.perf_counter()
    found = discover.find(namespace, extra or [])
    refusal = budget.snapshot_refusal(
        found.tensor_bytes(), budget.step_growth([m for _, m in found.modules],
                                                 [o for _, o in found.optimizers]))
    if refusal is not None:
        from nbgrad.errors import NbgradUsageError, usage_message

        raise NbgradUsageError(usage_message(
            refusal,
            "free memory (del what you no longer need), or keep the changes the recorded steps "
            "make with --keep (keep=True in Python).",
            "%%gradcheck --keep"))
    snapshot = Snapshot(found)
    snapshot.seconds = time.perf_counter() - started
    return snapshot
