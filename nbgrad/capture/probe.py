"""What the forward pass shows, watched in detail only during a few iterations ("windows").

A window is the first iteration of the loop (until the first `optimizer.step()`) and, when more than
one step is asked for, the last one. During a window a TorchFunctionMode sees every torch call
(functional activations like `F.sigmoid`, loss functions, `prediction - target`) and a global
forward pre-hook tracks which module is running. Outside the windows nothing is added to a step but
one attribute test in the spine's forward hook, so the steps in between run at full speed; the
optional `every_step` setting adds activation statistics of activation modules on every step.

All values stay on the device as small vectors; `probe_records.build` turns them into records after
the cell stopped.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

from nbgrad.capture import forward_stats
from nbgrad.capture.callsite import cell_line

ACTIVATIONS = {"sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh", "tanh_": "tanh",
               "relu": "relu", "relu_": "relu"}
ACTIVATION_MODULES = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
CLASS_LOSSES = {"cross_entropy", "nll_loss"}
ELEMENTWISE_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                      "binary_cross_entropy", "binary_cross_entropy_with_logits"}
SUBTRACTIONS = {"sub", "__sub__", "__rsub__", "rsub", "subtract"}
# operations that only reshape or copy: their output is "the same values" as their input
VIEWS = {"view", "reshape", "squeeze", "unsqueeze", "flatten", "contiguous", "transpose", "permute",
         "t", "__getitem__", "float", "double", "half", "to", "clone", "view_as", "reshape_as",
         "squeeze_", "unsqueeze_", "select", "narrow"}
MAX_OPS_PER_WINDOW = 20_000  # a loop that never steps keeps its window open: bound the memory


@dataclass
class Tag:
    """What the probe knows about a tensor made during a window."""

    ref: weakref.ref
    op: str = ""  # the last operation that was not a view
    line: int | None = None
    module: int | None = None  # id of the module whose output this is
    prediction: bool = False  # the model's output (the outermost module's), or a view of it
    activation: int | None = None  # index into Probe.activations when an activation made it


@dataclass
class RawActivation:
    module: int | None
    kind: str
    source: str
    after: int | str  # id of the module that produced the input, or the producing op's name
    step: int
    line: int | None
    numel: int
    units: int
    samples: int
    stats: torch.Tensor
    feeds_loss: bool = False


@dataclass
class RawLoss:
    function: str
    step: int
    line: int | None
    module: int | None
    input_shape: list[int]
    target_shape: list[int]
    target_dtype: str
    input_from: str
    input_from_line: int | None
    prediction_tagged: bool
    value_range: torch.Tensor
    target: torch.Tensor
    prediction: torch.Tensor
    classes: int | None = None
    ignore_index: int | None = None
    broadcast_shape: list[int] | None = None
    distance: torch.Tensor | None = None
    alignment: torch.Tensor | None = None


@dataclass
class RawModuleCall:
    module: int
    step: int
    training: bool
    batch_size: int | None
    nonfinite: torch.Tensor | None = None
    root: int | None = None
    requires_grad: bool | None = None


@dataclass
class Window:
    step: int
    tags: dict[int, Tag] = field(default_factory=dict)
    stack: list[nn.Module] = field(default_factory=list)
    calls: dict[int, RawModuleCall] = field(default_factory=dict)
    ops: int = 0


class _Mode(TorchFunctionMode):
    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        __tracebackhide__ = True
        kwargs = kwargs or {}
        probe = self.probe
        if probe.busy or probe.failure is not None or probe.window is None:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in CLASS_LOSSES or name in ELEMENTWISE_LOSSES:
            probe.safely(probe.on_loss, name, args, kwargs)
        out = func(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            probe.safely(probe.on_op, name, args, out)
        return out


def _safe(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Probe, *args: Any) -> Any:
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
        self.losses: list[RawLoss] = []
        self.inputs: list[tuple[int, int, int | None, list[int], str, torch.Tensor]] = []
        self.op_flags: list[tuple[str, int | None, int, int | None, torch.Tensor]] = []
        self.symmetry: list[tuple[int, int, int, torch.Tensor]] = []
        self.loss_modules: set[int] = set()
        self.types: dict[int, str] = {}  # module id -> class name
        self._mode: _Mode | None = None
        self._pre_hook: Any = None
        self._grad_hooks: list[Any] = []
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
        self._mode = _Mode(self)
        self._mode.__enter__()

    def close_window(self) -> None:
        self.window = None
        if self._pre_hook is not None:
            self._pre_hook.remove()
            self._pre_hook = None
        if self._mode is not None:
            _remove_mode(self._mode)
            self._mode = None

    def close(self) -> None:
        """End of the run: every hook, mode and tensor hook of the probe removed."""
        self.close_window()
        while self._grad_hooks:
            self._grad_hooks.pop().remove()

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
        self.safely(self._enter_module, module, args)

    def _enter_module(self, module: nn.Module, args: Any) -> None:
        window = self.window
        if window is None:
            return
        root = not window.stack
        window.stack.append(module)
        self.types.setdefault(id(module), type(module).__name__)
        if isinstance(module, nn.modules.loss._Loss):
            self.loss_modules.add(id(module))
        if window.step == self.windows[0] and id(module) not in self.order:
            self.order.append(id(module))
        first = args[0] if args else None
        is_tensor = isinstance(first, torch.Tensor)
        if id(module) not in window.calls:
            batch = first.shape[0] if is_tensor and first.dim() > 0 else None
            call = RawModuleCall(id(module), window.step, module.training, batch,
                                 root=id(window.stack[0]))
            window.calls[id(module)] = call
            self.calls.append(call)
        if (root and is_tensor and first.is_floating_point() and id(module) not in self.loss_modules
                and not any(i[1] == window.step for i in self.inputs)):
            self.inputs.append((id(module), window.step, cell_line(self.filename), list(first.shape),
                                str(first.dtype).replace("torch.", ""), forward_stats.summary(first)))

    @_safe
    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        """The spine's forward hook, passed on while a window is open (or on every step)."""
        window = self.window
        if window is None:
            self._every_step(module, output)
            return
        if window.stack and window.stack[-1] is module:
            window.stack.pop()
        elif module in window.stack:  # a forward that raised left entries behind
            del window.stack[window.stack.index(module):]
        out = output if isinstance(output, torch.Tensor) else None
        if out is None:
            return
        call = window.calls.get(id(module))
        if call is not None and call.nonfinite is None and out.is_floating_point():
            call.nonfinite = ~torch.isfinite(out.detach()).all()
            call.requires_grad = out.requires_grad
        tag = self._tag(out)
        tag.module = id(module)
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
                                            ~torch.isfinite(output.detach()).all(),
                                            requires_grad=output.requires_grad))
        self.types.setdefault(id(module), type(module).__name__)
        kind = ACTIVATION_MODULES.get(type(module))
        if kind is not None:
            stats, units, samples = forward_stats.activation(kind, output)
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

    def _find(self, t: Any) -> Tag | None:
        if self.window is None or not isinstance(t, torch.Tensor):
            return None
        tag = self.window.tags.get(id(t))
        return tag if tag is not None and tag.ref() is t else None

    def on_op(self, name: str, args: Any, out: torch.Tensor) -> None:
        window = self.window
        if window is None or window.ops >= MAX_OPS_PER_WINDOW:
            return
        window.ops += 1
        source = self._find(args[0]) if args else None
        if name in VIEWS:
            if source is not None and out is not args[0]:
                tag = self._tag(out)
                tag.op, tag.line, tag.module = source.op, source.line, source.module
                tag.prediction, tag.activation = source.prediction, source.activation
            return
        line = cell_line(self.filename)
        module = id(window.stack[-1]) if window.stack else None
        if out.is_floating_point():
            self.op_flags.append((name, module, window.step, line,
                                  ~torch.isfinite(out.detach()).all()))
        if name in SUBTRACTIONS:
            self._subtraction(name, args, out, line, module)
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

    def _subtraction(self, name: str, args: Any, out: torch.Tensor, line: int | None,
                     module: int | None) -> None:
        if len(args) < 2 or not all(isinstance(a, torch.Tensor) for a in args[:2]):
            return
        first, second = self._find(args[0]), self._find(args[1])
        if first is not None and first.prediction and not args[1].requires_grad:
            prediction, target = args[0], args[1]
        elif second is not None and second.prediction and not args[0].requires_grad:
            prediction, target = args[1], args[0]
        else:
            return
        if any(r.function == "subtraction" and r.line == line and r.step == self.window.step
               for r in self.losses):
            return
        self._record_loss("subtraction", prediction, target, {}, line, module)

    def on_loss(self, name: str, args: Any, kwargs: dict[str, Any]) -> None:
        prediction = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if not isinstance(prediction, torch.Tensor) or not isinstance(target, torch.Tensor):
            return
        window = self.window
        assert window is not None
        module = id(window.stack[-1]) if window.stack else None
        self._record_loss(name, prediction, target, kwargs, cell_line(self.filename), module,
                          args=args)

    def _record_loss(self, name: str, prediction: torch.Tensor, target: torch.Tensor,
                     kwargs: dict[str, Any], line: int | None, module: int | None,
                     args: Any = ()) -> None:
        window = self.window
        assert window is not None
        tag = self._find(prediction)
        classed = name in CLASS_LOSSES and not target.is_floating_point()
        class_dim = 1 if prediction.dim() >= 2 else 0
        record = RawLoss(
            function=name, step=window.step, line=line, module=module,
            input_shape=list(prediction.shape), target_shape=list(target.shape),
            target_dtype=str(target.dtype).replace("torch.", ""),
            input_from=tag.op if tag is not None else "",
            input_from_line=tag.line if tag is not None else None,
            prediction_tagged=tag is not None and tag.prediction,
            value_range=forward_stats.value_range(prediction, class_dim if classed else None),
            target=forward_stats.summary(target), prediction=forward_stats.summary(prediction),
        )
        if tag is not None and tag.activation is not None:
            self.activations[tag.activation].feeds_loss = True
        if classed:
            record.classes = prediction.shape[class_dim] if prediction.dim() else None
            ignore = kwargs.get("ignore_index", args[4] if len(args) > 4 else -100)
            record.ignore_index = ignore if isinstance(ignore, int) else -100
        elif prediction.shape != target.shape:
            try:
                shape = torch.broadcast_shapes(prediction.shape, target.shape)
            except RuntimeError:
                shape = None
            if shape is not None and shape.numel() > max(prediction.numel(), target.numel()):
                record.broadcast_shape = list(shape)
        self.losses.append(record)
        self._watch_gradient(record, prediction, target, classed)

    def _watch_gradient(self, record: RawLoss, prediction: torch.Tensor, target: torch.Tensor,
                        classed: bool) -> None:
        """Hook the prediction's gradient: does minimising the loss move it towards the target?"""
        if not (torch.is_grad_enabled() and prediction.requires_grad):
            return
        if classed and prediction.dim() == 2 and target.dim() == 1:
            labels = target.detach()

            def on_grad(grad: torch.Tensor) -> None:
                if record.alignment is None:
                    record.alignment = self.safely(forward_stats.class_alignment, grad, labels)
        elif (not classed and prediction.shape == target.shape and target.is_floating_point()
              and record.function != "binary_cross_entropy_with_logits"):
            towards = (target.detach().float() - prediction.detach().float())
            record.distance = forward_stats.rms_distance(prediction, target)

            def on_grad(grad: torch.Tensor) -> None:
                if record.alignment is None:
                    record.alignment = self.safely(forward_stats.elementwise_alignment, grad,
                                                   towards)
        else:
            return
        self._grad_hooks.append(prediction.register_hook(on_grad))

    # -- at the step --------------------------------------------------------------------------------
    def _measure_symmetry(self, params: list[torch.Tensor], step: int) -> None:
        for index, p in enumerate(params):
            if p.dim() >= 2 and p.shape[0] >= 2 and p.grad is not None:
                self.symmetry.append((index, step, p.shape[0],
                                      forward_stats.symmetry(p, p.grad)))


def _remove_mode(mode: TorchFunctionMode) -> None:
    """Take `mode` off torch's function-mode stack, wherever it is, leaving the others in place."""
    if not any(m is mode for m in _get_current_function_mode_stack()):
        return
    above = []
    while True:
        top = torch._C._pop_torch_function_stack()
        if top is mode:
            break
        above.append(top)
    for m in reversed(above):
        torch._C._push_on_torch_function_stack(m)
