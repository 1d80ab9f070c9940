"""What the forward pass shows, watched in detail only during a few iterations ("windows").

A window is the first iteration of the loop (until the first `optimizer.step()`) and, when more than
one step is asked for, the last one. During a window a TorchFunctionMode sees every torch call
(functional activations like `F.sigmoid`, loss functions, `prediction - target`) and a global
forward pre-hook tracks which module is running. Outside the windows nothing is added to a step but
one attribute test in the spine's forward hook, so the steps in between run at full speed; the
optional `every_step` setting adds activation statistics of activation modules on every step.

All values stay on the device as small vectors; `probe_records.build` turns them into records after
the cell stopped.

The windows watch the thread that runs the check. torch's function-mode stack is per thread, and a
mode pushed on another thread's stack could only be popped by that thread, so the mode is pushed and
popped in the check's thread only: a thread the cell starts is recorded (its steps, its modules)
but not watched in detail, and never keeps nbgrad's mode.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

from nbgrad.capture import forward_stats
from nbgrad.capture.callsite import cell_line
from nbgrad.capture.probe_details import Details
from nbgrad.capture.probe_flow import FlowWatcher
from nbgrad.capture.probe_losses import LossWatcher
from nbgrad.capture.probe_mode import ProbeMode, push_bottom, remove_mode
from nbgrad.capture.probe_raw import (
    ACTIVATION_MODULES,
    ACTIVATIONS,
    MAX_OPS_PER_WINDOW,
    NOT_COMPUTED,
    SUBTRACTIONS,
    VIEWS,
    RawActivation,
    RawModuleCall,
    Tag,
    Window,
)


def _safe(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Probe, *args: Any) -> Any:
        if torch.compiler.is_compiling():  # torch.compile traces hooks: stay out of its graph
            return None
        return self.safely(method, self, *args)
    return wrapper


class Probe:
    """Records what the forward pass shows during the windows; see the module docstring."""

    def __init__(self, filename: str, every_step: bool = False) -> None:
        self.filename = filename
        self.every_step = every_step
        self.window: Window | None = None
        self.windows: list[int] = []
        self.busy = False
        self.failure: BaseException | None = None
        self.order: list[int] = []  # module ids, first window, in the order they started
        self.calls: list[RawModuleCall] = []
        self.activations: list[RawActivation] = []
        self.losses_seen = LossWatcher(self)
        self.flow = FlowWatcher(self)  # graph cuts, backward(), in-place ops, reshapes, axes
        self.details = Details(self)  # singular operations, layer feeds, loss values
        self.inputs: list[tuple[int, int, int | None, list[int], str, torch.Tensor]] = []
        self.op_flags: list[tuple[str, int | None, int, int | None, torch.Tensor]] = []
        self.symmetry: list[tuple[int, int, int, torch.Tensor]] = []
        self.loss_modules: set[int] = set()
        self.types: dict[int, str] = {}  # module id -> class name
        self.modules: dict[int, nn.Module] = {}  # every module that started a forward in a window
        self._mode: ProbeMode | None = None
        self._thread = threading.get_ident()  # the check's thread: the only one whose stack has the mode
        self._pre_hook: Any = None
        self.grad_hooks: list[Any] = []  # on predictions: removed at the end of the run
        self.kept: list[list[torch.Tensor]] = []  # tensors a gradient hook reads: window only
        self._last_opened = False
        self.step = 0  # the step the loop is working towards
        self._every_seen: dict[int, int] = {}  # module id -> last step recorded (every_step)

    # -- guard: a bug in the probe must not break the user's loop ---------------------------------
    def safely(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.failure is not None or self.busy:
            return None
        self.busy = True
        try:
            return fn(*args)
        except Exception as error:
            self.failure = error
            return None
        finally:
            self.busy = False

    # -- windows ------------------------------------------------------------------------------------
    def open_window(self) -> None:
        if self.window is not None or self.failure is not None:
            return
        self.window = Window(self.step)
        self.windows.append(self.step)
        self._pre_hook = register_module_forward_pre_hook(self._before_forward)
        if self._mode is None and self._own_thread():
            self._mode = ProbeMode(self)
            push_bottom(self._mode)

    def close_window(self) -> None:
        """End the window; the mode (idle once no window is open) leaves in the check's thread."""
        self.window = None
        for kept in self.kept:
            kept.clear()
        self.kept = []
        if self._pre_hook is not None:
            self._pre_hook.remove()
            self._pre_hook = None
        if self._mode is not None and self._own_thread():
            remove_mode(self._mode)
            self._mode = None

    def _own_thread(self) -> bool:
        return threading.get_ident() == self._thread

    def close(self) -> None:
        """End of the run: every hook, mode and tensor hook of the probe removed."""
        self.close_window()
        while self.grad_hooks:
            self.grad_hooks.pop().remove()

    def on_step_pre(self, params: list[torch.Tensor]) -> None:
        """Just before an optimizer step: check unit symmetry, then end the window."""
        if self.window is not None:
            self.safely(self._measure_symmetry, params, self.window.step)
        self.close_window()

    def on_step_post(self, steps_done: list[int], steps_requested: int, next_step: int) -> None:
        """After a step: open the last window when every optimizer has one step left."""
        self.step = next_step
        if (not self._last_opened and steps_requested >= 2 and steps_done
                and min(steps_done) == steps_requested - 1):
            self._last_opened = True
            self.open_window()

    # -- module hooks -------------------------------------------------------------------------------
    def _before_forward(self, module: nn.Module, args: Any) -> None:
        if not torch.compiler.is_compiling() and self._own_thread():
            self.safely(self._enter_module, module, args)

    def _enter_module(self, module: nn.Module, args: Any) -> None:
        window = self.window
        if window is None:
            return
        root = not window.stack
        window.stack.append(module)
        self.types.setdefault(id(module), type(module).__name__)
        self.modules.setdefault(id(module), module)
        if isinstance(module, nn.modules.loss._Loss):
            self.loss_modules.add(id(module))
        if window.step == self.windows[0] and id(module) not in self.order:
            self.order.append(id(module))
        first = args[0] if args else None
        if isinstance(module, nn.RNNBase):
            self.flow.on_recurrent(module, first)
        self.details.module_input(module, first, cell_line(self.filename))
        if not isinstance(first, torch.Tensor):
            first = None
        if (id(module), module.training) not in window.calls:
            batch = first.shape[0] if first is not None and first.dim() > 0 else None
            call = RawModuleCall(id(module), window.step, module.training, batch,
                                 root=id(window.stack[0]))
            window.calls[id(module), module.training] = call
            self.calls.append(call)
        if (root and first is not None and first.is_floating_point()
                and first.layout == torch.strided and id(module) not in self.loss_modules
                and not any(i[1] == window.step for i in self.inputs)):
            self.inputs.append((id(module), window.step, cell_line(self.filename), list(first.shape),
                                str(first.dtype).replace("torch.", ""), forward_stats.summary(first)))

    @_safe
    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        """The spine's forward hook, passed on while a window is open (or on every step)."""
        window = self.window
        if window is None or not self._own_thread():
            self._every_step(module, output)
            return
        if window.stack and window.stack[-1] is module:
            window.stack.pop()
        elif module in window.stack:  # a forward that raised left entries behind
            del window.stack[window.stack.index(module):]
        out = output if isinstance(output, torch.Tensor) else None
        if out is None:
            return
        call = window.calls.get((id(module), module.training))
        if call is not None and call.nonfinite is None and out.is_floating_point():
            call.nonfinite = forward_stats.any_nonfinite(out)
            call.requires_grad = out.requires_grad
        tag = self._tag(out)
        tag.module = id(module)
        if tag.first_module is None:
            tag.first_module = id(module)
        if not window.stack and id(module) not in self.loss_modules:
            tag.prediction = True

    def _every_step(self, module: nn.Module, output: Any) -> None:
        """Between windows, with `every_step`: activation modules' statistics, outputs' finiteness."""
        if not self.every_step or not isinstance(output, torch.Tensor):
            return
        if self._every_seen.get(id(module)) == self.step:
            return
        self._every_seen[id(module)] = self.step
        if output.is_floating_point():
            self.calls.append(RawModuleCall(id(module), self.step, module.training, None,
                                            forward_stats.any_nonfinite(output),
                                            requires_grad=output.requires_grad))
        self.types.setdefault(id(module), type(module).__name__)
        kind = ACTIVATION_MODULES.get(type(module))
        if kind is not None:
            stats, units, samples = forward_stats.activation(kind, output, detailed=False)
            self.activations.append(RawActivation(id(module), kind, "module", "", self.step, None,
                                                  output.numel(), units, samples, stats))

    # -- the function mode --------------------------------------------------------------------------
    def _tag(self, t: torch.Tensor) -> Tag:
        window = self.window
        assert window is not None
        tag = window.tags.get(id(t))
        if tag is None or tag.ref() is not t:
            tag = Tag(weakref.ref(t))
            window.tags[id(t)] = tag
        return tag

    def find(self, t: Any) -> Tag | None:
        if self.window is None or not isinstance(t, torch.Tensor):
            return None
        tag = self.window.tags.get(id(t))
        return tag if tag is not None and tag.ref() is t else None

    def on_op(self, name: str, args: Any, out: torch.Tensor) -> None:
        window = self.window
        if window is None or window.ops >= MAX_OPS_PER_WINDOW:
            return
        window.ops += 1
        source = self.find(args[0]) if args else None
        if name in VIEWS:
            if source is not None and out is not args[0]:
                tag = self._tag(out)
                tag.op, tag.line, tag.module = source.op, source.line, source.module
                tag.prediction, tag.activation = source.prediction, source.activation
            return
        line = cell_line(self.filename)
        module = id(window.stack[-1]) if window.stack else None
        if out.is_floating_point() and name not in NOT_COMPUTED:
            self.op_flags.append((name, module, window.step, line,
                                  forward_stats.any_nonfinite(out)))
        if name in SUBTRACTIONS:
            self.losses_seen.subtraction(args, line, module)
        self.details.on_op(name, args, out, line, module)
        tag = self._tag(out)
        tag.op, tag.line, tag.module, tag.prediction, tag.activation = name, line, None, False, None
        kind = ACTIVATIONS.get(name)
        if kind is not None and out.is_floating_point():
            stats, units, samples = forward_stats.activation(kind, out)
            after: int | str = ""
            if source is not None:
                after = source.module if source.module is not None else source.op
            source_kind = ("module" if window.stack and
                           type(window.stack[-1]) in ACTIVATION_MODULES else "function")
            tag.activation = len(self.activations)
            self.activations.append(RawActivation(module, kind, source_kind, after, window.step, line,
                                                  out.numel(), units, samples, stats))

    # -- at the step --------------------------------------------------------------------------------
    def _measure_symmetry(self, params: list[torch.Tensor], step: int) -> None:
        for index, p in enumerate(params):
            grad = p.grad
            if (p.dim() >= 2 and p.shape[0] >= 2 and grad is not None
                    and p.layout == grad.layout == torch.strided):  # a sparse gradient has no rows
                self.symmetry.append((index, step, p.shape[0], forward_stats.symmetry(p, grad)))


