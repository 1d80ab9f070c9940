"""Copy the user's training state before a check, and put it back after, in place and bit for bit.

A check is a diagnostic, not training: the steps it runs must not change the experiment. What
`discover.find` finds and the cell's code names is copied to host memory before the cell runs;
what it finds but the code does not name (an unrelated frozen model) is copied only if the steps
use it, just before they do (`first_use`), and so are objects that existed before the cell but that
no name reaches. A copy holds parameter and buffer values with their device, dtype and strides,
`.grad` (or its absence), requires_grad, the hooks and attributes set on each tensor, and each
module's whole `__dict__` (train/eval mode,
children, hooks, parametrizations, other attributes) and class; optimizers, schedulers and
GradScalers whole; the RNG states. `restore()` writes the values back into the same tensor objects
and refills the same containers, so every reference the user holds stays valid; what the cell
added to an object that existed (a pruning mask, a hook, a `weight_norm`) goes.

Memory: one host copy of that state (shared parameters are copied once); the restore copies
host -> device in place and allocates on the device only where the cell moved or dropped a tensor.
Tensors themselves are held weakly, so a `.grad` that the cell sets to None is freed as it would be
without nbgrad.
"""

from __future__ import annotations

import enum
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nbgrad.capture import budget, discover, rng_state
from nbgrad.capture.first_use import FirstUse
from nbgrad.capture.saves import SaveRedirect
from nbgrad.records import RestoreInfo

_PLAIN = (bool, int, float, complex, str, bytes, type(None), enum.Enum, torch.dtype, torch.device,
          torch.layout, torch.memory_format)
_CONTAINERS = (dict, OrderedDict, defaultdict)
MAX_DEPTH = 6  # nesting copied inside one attribute (optimizer state: state -> param -> buffer)
MAX_ITEMS = 1000  # a module attribute holding more than this is copied one level deep only
MODULE_STATE = frozenset({"_parameters", "_buffers", "_modules"})
MEMORY_SHARE = 0.8  # of the free host memory a copy may take
TENSOR_HOOKS = ("_backward_hooks", "_post_accumulate_grad_hooks")


class TensorCopy:
    """A host copy of one tensor with its device, dtype and strides, and how to find (or, if it
    was freed, remake) the original."""

    def __init__(self, tensor: torch.Tensor, store: Store) -> None:
        if nn.parameter.is_lazy(tensor):
            raise ValueError("it has lazy parameters that are not initialized yet")
        self._ref = weakref.ref(tensor)
        self.device = tensor.device
        self.stride = tensor.stride() if tensor.layout == torch.strided else None
        self.is_param = isinstance(tensor, nn.Parameter)
        self.requires_grad = tensor.requires_grad
        data = tensor.detach()
        # a copy keeps the strides of a dense tensor (channels-last stays channels-last)
        self.host = data.clone() if data.device.type == "cpu" else data.to("cpu", copy=True)
        store.bytes += self.host.numel() * self.host.element_size()
        self.has_grad_slot = tensor.is_leaf
        grad = tensor.grad if tensor.is_leaf else None
        self.grad = None if grad is None else store.tensor(grad)
        self.attrs = dict(vars(tensor))  # attributes set on the tensor object (usually none)
        self.hooks = {name: list((getattr(tensor, name, None) or {}).items())
                      for name in TENSOR_HOOKS}
        self._back: torch.Tensor | None = None

    def restore(self) -> torch.Tensor:
        """The original tensor with its values, device, dtype, strides, requires_grad and .grad
        as they were (once). A new tensor only where the original was freed, or torch cannot put
        the old kind of data back into it."""
        if self._back is not None:
            return self._back
        tensor = self._ref()
        tensor = self._remake() if tensor is None else self._write(tensor)
        if tensor.is_leaf and tensor.requires_grad != self.requires_grad:
            tensor.requires_grad_(self.requires_grad)
        if self.has_grad_slot:  # after the data: a gradient must match its tensor's dtype
            tensor.grad = None if self.grad is None else self.grad.restore()
        self._restore_attributes(tensor)
        self._back = tensor
        return tensor

    def _restore_attributes(self, tensor: torch.Tensor) -> None:
        """Hooks registered on the tensor (`p.register_hook`) and attributes set on it, as they
        were: the same dicts, refilled, so that the user's handles still work."""
        attrs = vars(tensor)
        if attrs != self.attrs:
            attrs.clear()
            attrs.update(self.attrs)
        for name, items in self.hooks.items():
            hooks = getattr(tensor, name, None)
            if hooks is not None and list(hooks.items()) != items:
                hooks.clear()
                hooks.update(items)
            elif hooks is None and items:
                setattr(tensor, name, OrderedDict(items))

    def _remake(self) -> torch.Tensor:
        tensor = self.host.to(self.device, copy=True)
        return nn.Parameter(tensor, requires_grad=self.requires_grad) if self.is_param else tensor

    def _write(self, tensor: torch.Tensor) -> torch.Tensor:
        host = self.host
        with torch.no_grad():
            if (tensor.device == self.device and tensor.dtype == host.dtype
                    and tensor.shape == host.shape
                    and (self.stride is None or tensor.stride() == self.stride)):
                try:
                    tensor.copy_(host)
                    return tensor
                except RuntimeError:  # an inference tensor, or one whose elements overlap
                    pass
            data = host.to(self.device, copy=True)
            if not torch._has_compatible_shallow_copy_type(tensor, data):
                return self._remake()  # e.g. moved to a device of another tensor kind
            tensor.data = data
            return tensor


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

    def has(self, tensor: torch.Tensor) -> bool:
        copy = self.tensors.get(id(tensor))
        return copy is not None and copy._ref() is tensor

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
    shallow: bool = False  # items are the values themselves, not frozen


@dataclass
class _DictCopy:
    original: dict[Any, Any]
    items: list[tuple[Any, Any]]
    shallow: bool = False


@dataclass
class _SetCopy:
    original: set[Any]
    items: list[Any]


def freeze(value: Any, store: Store, depth: int = 0, limit: int | None = None) -> Any:
    """A copy of `value` that keeps the identity of every container and tensor in it; a container
    of more than `limit` items is copied one level deep (its items put back as they are)."""
    if isinstance(value, torch.Tensor):
        return store.tensor(value)
    if isinstance(value, _PLAIN) or depth >= MAX_DEPTH:
        return _Same(value)
    kind = type(value)
    if kind in (list, tuple, set, *_CONTAINERS) and limit is not None and len(value) > limit:
        if kind is set:
            return _SetCopy(value, list(value))
        if kind in (list, tuple):
            return _ListCopy(value, list(value), shallow=True)
        return _DictCopy(value, list(value.items()), shallow=True)
    if kind in (list, tuple):
        return _ListCopy(value, [freeze(v, store, depth + 1, limit) for v in value])
    if kind in _CONTAINERS:
        return _DictCopy(value, [(k, freeze(v, store, depth + 1, limit)) for k, v in value.items()])
    if kind is set:
        return _SetCopy(value, list(value))
    return _Same(value)


def thaw(frozen: Any) -> Any:
    """The frozen value back: the same containers, refilled, so that containers shared between
    objects (a scheduler's `_last_lr` is its sub-scheduler's list) are shared again."""
    if isinstance(frozen, _Same):
        return frozen.value
    if isinstance(frozen, TensorCopy):
        return frozen.restore()
    if isinstance(frozen, _SetCopy):
        frozen.original.clear()
        frozen.original.update(frozen.items)
        return frozen.original
    if isinstance(frozen, _ListCopy):
        items = frozen.items if frozen.shallow else [thaw(f) for f in frozen.items]
        if isinstance(frozen.original, tuple):
            return tuple(items)
        frozen.original[:] = items
        return frozen.original
    pairs = frozen.items if frozen.shallow else [(k, thaw(f)) for k, f in frozen.items]
    frozen.original.clear()
    frozen.original.update(pairs)
    return frozen.original


class _ObjectCopy:
    """The whole `__dict__` of one object: attributes the cell added go, the others come back."""

    def __init__(self, obj: Any, store: Store) -> None:
        self.obj = obj
        self.attrs = {k: freeze(v, store) for k, v in vars(obj).items()}

    def restore(self) -> None:
        _refill(vars(self.obj), self.attrs)


def _refill(attrs: dict[str, Any], frozen: dict[str, Any]) -> None:
    for key in [k for k in attrs if k not in frozen]:
        del attrs[key]
    for key, value in frozen.items():
        attrs[key] = thaw(value)


class _ModuleCopy:
    """Class and whole `__dict__` of one module: parameters, buffers, children, train/eval mode,
    hooks and any other attribute (pruning masks, weight_norm's `weight_g`, ...)."""

    def __init__(self, module: nn.Module, store: Store) -> None:
        self.module = module
        self.kind = type(module)
        self.attrs = {k: freeze(v, store, limit=None if k in MODULE_STATE else MAX_ITEMS)
                      for k, v in vars(module).items()}

    def restore(self) -> None:
        if type(self.module) is not self.kind:  # e.g. torch.nn.utils.parametrize swapped it
            self.module.__class__ = self.kind
        _refill(vars(self.module), self.attrs)


class Snapshot:
    """The state of a namespace's training objects; `restore()` puts it back.

    Installs, until `restore()` or `discard()`, what copies objects when the steps first use them
    and what keeps `torch.save` from replacing the user's files."""

    def __init__(self, found: discover.Found) -> None:
        self.store = Store()
        self.objects: list[str] = []
        self.first_use: list[str] = []
        self.failed: list[str] = []
        self.seconds = 0.0
        self._copies: list[Any] = []
        self._modules_done: set[int] = set()
        self._done: set[int] = set()  # optimizers and tensors copied (modules: _modules_done)
        self._names: dict[int, str] = {}  # what discovery named, submodules included
        self._waiting: list[tuple[str, Any]] = []  # found, not named by the code: copied on use
        self._waiting_tensors: set[int] = set()  # ids of the hand-made parameters among them
        self.first_use_hooks = FirstUse(self._on_first_use, self._on_clearing,
                                        threading.get_ident())
        self.saves = SaveRedirect()
        self._installed = False
        for name, module in found.modules:
            for sub_name, sub in module.named_modules(prefix=name):
                self._names.setdefault(id(sub), sub_name)
        for name, obj in found.modules + found.optimizers + found.tensors:
            self._names.setdefault(id(obj), name)
            if found.is_mentioned(obj):
                self._take(name, obj)
            else:
                self._waiting.append((name, obj))
                if isinstance(obj, torch.Tensor):
                    self._waiting_tensors.add(id(obj))
        for name, obj in found.schedulers + found.scalers:  # small: always copied
            self._take(name, obj)
        self.rng = rng_state.capture(found.generators)

    # -- copying -----------------------------------------------------------------------------
    def _copies_of(self, obj: Any) -> list[Any]:
        if isinstance(obj, nn.Module):
            subs = [m for m in obj.modules() if id(m) not in self._modules_done]
            copies = [_ModuleCopy(m, self.store) for m in subs]
            self._modules_done.update(id(m) for m in subs)  # each submodule once (shared ones)
            return copies
        self._done.add(id(obj))
        if isinstance(obj, torch.Tensor):
            return [self.store.tensor(obj)]
        if isinstance(obj, torch.optim.Optimizer):  # its parameters come back with it
            self._done.update(id(p) for group in obj.param_groups for p in group["params"])
        return [_ObjectCopy(obj, self.store)]

    def _take(self, name: str, obj: Any) -> None:
        try:
            self._copies.extend(self._copies_of(obj))
        except Exception as error:
            self.failed.append(f"{name}: {type(error).__name__}: {error}")
            self._give_up(obj)
            return
        self.objects.append(name)

    def _give_up(self, obj: Any) -> None:
        """Not copied, and not tried again when the steps use it."""
        if isinstance(obj, nn.Module):
            self._modules_done.update(id(m) for m in obj.modules())
        else:
            self._done.add(id(obj))

    def copied(self, obj: Any) -> bool:
        return id(obj) in (self._modules_done if isinstance(obj, nn.Module) else self._done)

    def _on_first_use(self, obj: Any, born: bool) -> None:
        """A module is about to run, or an optimizer to step, for the first time in the check
        (inside the user's forward or step: whatever fails here is reported, never raised)."""
        try:
            if self.saves.installed:
                self.saves.install()  # writers of frameworks the cell imported itself
            if not self.copied(obj):
                self._copy_on_first_use(obj, born)
        except Exception as error:
            self.failed.append(f"{type(obj).__name__}: {type(error).__name__}: {error}")

    def _copy_on_first_use(self, obj: Any, born: bool) -> None:
        name = self._names.get(id(obj))
        if name is None and born:  # the cell made it: it keeps what the steps do to it
            if isinstance(obj, nn.Module):
                self._modules_done.add(id(obj))  # not its children: they may be older
                return
            self._done.add(id(obj))
            for group in obj.param_groups:  # older hand-made parameters it is about to step
                for p in group["params"]:
                    if id(p) in self._waiting_tensors and not self.copied(p):
                        self._take(self._names[id(p)], p)
            return
        started = time.perf_counter()
        label = name or type(obj).__name__
        if not self._fits(label, _tensors_of(obj)):
            self._give_up(obj)
            return
        before = len(self.objects)
        self._take(label, obj)
        if name is None and len(self.objects) > before:
            self.objects.pop()
            self.first_use.append(label)
        self.seconds += time.perf_counter() - started

    def _on_clearing(self, params: list[torch.Tensor]) -> None:
        """zero_grad() is about to drop these gradients: copy them (with their parameters) if
        they are not copied yet, for the module that runs next (see `first_use`)."""
        try:
            fresh = [p for p in params if not self.store.has(p)]
            if fresh and self._fits(f"the gradients of {len(fresh)} parameters", fresh,
                                    plural=True):
                for p in fresh:
                    self.store.tensor(p)
        except Exception as error:
            self.failed.append(f"gradients: {type(error).__name__}: {error}")

    def _fits(self, label: str, tensors: list[torch.Tensor], plural: bool = False) -> bool:
        """Whether a copy made while the cell runs fits in host memory; if not, it is not made
        (running out of memory would kill the kernel) and the report says so."""
        seen: dict[int, torch.Tensor] = {}

        def add(t: torch.Tensor) -> None:
            if not self.store.has(t) and not nn.parameter.is_lazy(t):
                seen[id(t)] = t
                if t.is_leaf and t.grad is not None:
                    add(t.grad)

        for t in tensors:
            add(t)
        needed = sum(t.numel() * t.element_size() for t in seen.values())
        room = budget.host_room()
        if room is None or needed <= MEMORY_SHARE * room.free:
            return True
        their, them, it = ("their", "them", "they") if plural else ("its", "it", "it")
        self.failed.append(f"{label}: {their} {budget.size(needed)} copy did not fit in the "
                           f"{budget.size(max(room.free, 0))} free under {room.limit} when the steps "
                           f"first used {them}; "
                           f"{it} {'keep' if plural else 'keeps'} the steps' changes")
        return False

    @property
    def bytes(self) -> int:
        return self.store.bytes

    # -- installed while the cell runs ---------------------------------------------------------
    def install(self) -> None:
        self._installed = True
        try:
            self.first_use_hooks.install()
            self.saves.install()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop copying on first use and redirecting saves; safe to call more than once."""
        if self._installed:
            self._installed = False
            self.first_use_hooks.remove()
            self.saves.remove()

    def discard(self) -> None:
        """Keep every change (nbgrad failed and let the cell run as it would without nbgrad):
        the files the cell saved go where it saved them."""
        self.close()
        self.saves.keep_changes()

    # -- putting back --------------------------------------------------------------------------
    def restore(self) -> RestoreInfo:
        """Put everything back; a part that fails is reported in `failed`, the rest still done."""
        self.close()
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
                           failed=failed + rng_failed, copied_at_first_use=list(self.first_use),
                           not_copied=[n for n, obj in self._waiting if not self.copied(obj)],
                           files_redirected=self.saves.redirected_files(),
                           files_written=list(self.saves.written))


def _tensors_of(obj: Any) -> list[torch.Tensor]:
    tensors: list[torch.Tensor] = []
    discover.tensor_sources(obj, lambda t: tensors.append(t) if isinstance(t, torch.Tensor) else None)
    return tensors


def _describe(copy: Any) -> str:
    obj = getattr(copy, "module", None) or getattr(copy, "obj", None)
    return type(obj).__name__ if obj is not None else "tensor"


def take(namespace: Mapping[str, Any], extra: list[tuple[str, Any]] | None = None,
         source: str | None = None) -> Snapshot:
    """Snapshot the training objects reachable from `namespace` (see `discover`) that `source`
    (the code about to run; None: all of them) names, and copy the others on first use.

    Refuses (NbgradUsageError, before anything ran) when the copy taken now would not fit in host
    memory: running out of memory would kill the kernel and lose the whole session. Copies made
    on first use are checked when they are made (see `Snapshot._fits`).
    """
    started = time.perf_counter()
    found = discover.find(namespace, extra or [], source)
    now = [obj for group in (found.modules, found.optimizers, found.tensors) for _, obj in group
           if found.is_mentioned(obj)]
    refusal = budget.snapshot_refusal(
        found.tensor_bytes(now), budget.step_growth([m for _, m in found.modules],
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
    snapshot.install()
    return snapshot
