"""Notice when the steps first use a module or an optimizer, before they change it.

A global forward pre-hook fires before every module runs (until the first optimizer step is done),
the global optimizer step pre-hook before every step: the first time for an object,
`on_use(obj, born)` is called, so that a model no name reaches (`registry['net']` in a custom
mapping, a global of another module) or one the cell's code does not name is copied just before
the steps change it. `born` says the object was made while the check ran (its class's `__init__`,
or `__setstate__` for a copy or an unpickled one, ran since `install()`): such an object is the
cell's, and keeps what the steps did to it. A loop clears the gradients before its first forward
pass: until the first step, the first `zero_grad()` of each optimizer or module calls
`on_grads(params)` with the parameters that hold a gradient, so that they can be copied first.

Only the thread that runs the cell is watched: a training thread started earlier is not the check's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from nbgrad.capture import patching

OnUse = Callable[[Any, bool], None]
OnGrads = Callable[[list[torch.Tensor]], None]


class FirstUse:
    def __init__(self, on_use: OnUse, on_grads: OnGrads, thread_id: int) -> None:
        self._on_use = on_use
        self._on_grads = on_grads
        self._thread_id = thread_id
        self._seen: set[int] = set()  # ids of objects already reported (alive: they ran)
        self._cleared: set[int] = set()  # ids of optimizers and modules whose zero_grad() ran
        self._born: set[int] = set()
        self._stepped_once = False
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        try:
            self._undo.append(_hold_off_compile_init_patch())
            self._forward_hook = register_module_forward_pre_hook(self._forward)
            self._undo.append(self._forward_hook.remove)
            self._undo.append(register_optimizer_step_pre_hook(self._step).remove)
            self._undo.append(register_optimizer_step_post_hook(self._stepped).remove)
            for owner in (nn.Module, torch.optim.Optimizer):
                for method in ("__init__", "__setstate__"):
                    self._undo.append(patching.replace(owner, method, self._noting_birth))
                self._undo.append(patching.replace(owner, "zero_grad", self._before_clearing))
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _noting_birth(self, original: Callable[..., Any]) -> Callable[..., Any]:
        born = self._born

        def made(obj: Any, *args: Any, **kwargs: Any) -> Any:
            born.add(id(obj))
            return original(obj, *args, **kwargs)

        return made

    def _before_clearing(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def zero_grad(owner: Any, *args: Any, **kwargs: Any) -> Any:
            if (not self._stepped_once and id(owner) not in self._cleared
                    and threading.get_ident() == self._thread_id):
                self._cleared.add(id(owner))
                params = (owner.parameters() if isinstance(owner, nn.Module) else
                          [p for group in owner.param_groups for p in group["params"]])
                self._on_grads([p for p in params if p.grad is not None])
            return original(owner, *args, **kwargs)

        return zero_grad

    def _use(self, obj: Any) -> None:
        if torch.compiler.is_compiling():  # inside a compiled graph: the wrapper's call copied it
            return
        if id(obj) in self._seen or threading.get_ident() != self._thread_id:
            return
        self._seen.add(id(obj))
        self._on_use(obj, id(obj) in self._born)

    def _forward(self, module: nn.Module, args: Any) -> None:
        self._use(module)

    def _step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._use(optimizer)

    def _stepped(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """After the first step every module of the loop has run once: the forward pre-hook,
        which costs each module call as much as nbgrad's own forward hook, goes. A module that
        first runs later is copied only through an optimizer that steps it."""
        if threading.get_ident() == self._thread_id:
            self._forward_hook.remove()
            self._stepped_once = True  # what a zero_grad() clears now was copied at its use


DYNAMO_FLAG = "___needs_generation_tag_patch"


def _hold_off_compile_init_patch() -> Callable[[], None]:
    """torch.compile wraps `Module.__init__` once per process, on its first compiled call, and
    marks that on the class. Done while the check runs, its wrapper would hold nbgrad's for good:
    the mark says it is done until the check ends, so that it wraps the original after."""
    if DYNAMO_FLAG in nn.Module.__dict__:  # done before the check: its wrapper is below nbgrad's
        return lambda: None
    setattr(nn.Module, DYNAMO_FLAG, False)

    def undo() -> None:
        if nn.Module.__dict__.get(DYNAMO_FLAG) is False:
            delattr(nn.Module, DYNAMO_FLAG)

    return undo
