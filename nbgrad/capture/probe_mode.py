"""The TorchFunctionMode that lets the probe see every torch call during a window.

The mode sits on torch's function-mode stack only while a window is open. It must leave the user's
code unchanged: results, exceptions and the location warnings point at are the same as without it.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

if TYPE_CHECKING:
    from nbgrad.capture.probe import Probe

from nbgrad.capture.probe_raw import CLASS_LOSSES, DISTRIBUTION_LOSSES, ELEMENTWISE_LOSSES

TORCH_DISPATCH = ("overrides.py",)  # torch's handle_torch_function frames


class ProbeMode(TorchFunctionMode):
    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        __tracebackhide__ = True
        kwargs = kwargs or {}
        probe = self.probe
        if (probe.busy or probe.failure is not None or probe.window is None
                or torch.compiler.is_compiling()):
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        loss = name in CLASS_LOSSES or name in ELEMENTWISE_LOSSES or name in DISTRIBUTION_LOSSES
        if loss:
            probe.safely(probe.losses_seen.on_loss, name, args, kwargs)
        warned: list[str] = []
        try:
            out = _call_keeping_warnings(func, args, kwargs, warned)
        finally:  # also when the loss raises: its warning often says why
            if loss and warned:
                probe.safely(probe.losses_seen.on_warnings, warned)
        probe.safely(probe.flow.after_call, name, func, args, kwargs, out)
        if isinstance(out, torch.Tensor) and out.layout == torch.strided:  # sparse: no statistics
            probe.safely(probe.on_op, name, args, out)
        return out


def _call_keeping_warnings(func: Any, args: Any, kwargs: dict[str, Any],
                           warned: list[str] | None = None) -> Any:
    """Call `func`; a warning it raises is shown where it would be shown without the mode, and
    its message is added to `warned`.

    Warnings are intercepted at the last moment (`warnings._showwarnmsg`, after the filters and
    the once-per-location registry decided to show them), so the filters' state is not touched.
    """
    __tracebackhide__ = True
    caught: list[warnings.WarningMessage] = []
    # a private hook of the warnings module, which typeshed does not declare
    show = warnings._showwarnmsg  # type: ignore[attr-defined]
    warnings._showwarnmsg = caught.append  # type: ignore[attr-defined]
    try:
        return func(*args, **kwargs)
    finally:
        warnings._showwarnmsg = show  # type: ignore[attr-defined]
        for warning in caught:
            if warned is not None:
                warned.append(str(warning.message))
            if warning.filename == __file__:
                _reissue(warning, func)
            else:
                show(warning)


def _reissue(warning: warnings.WarningMessage, func: Any) -> None:
    """Emit a warning raised inside `func` again, pointing where it would point without the mode.

    A torch warning with stacklevel=2 names the caller of the torch function, which the mode made
    this file; it is moved to the frame that called the torch function in the first place.
    """
    __tracebackhide__ = True
    code = getattr(func, "__code__", None)
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename == __file__ or frame.f_code is code
                                 or frame.f_code.co_filename.endswith(TORCH_DISPATCH)):
        frame = frame.f_back
    if frame is None:
        return
    filename, lineno, module_globals = frame.f_code.co_filename, frame.f_lineno, frame.f_globals
    warnings.warn_explicit(warning.message, warning.category, filename, lineno,
                           module=module_globals.get("__name__"),
                           registry=module_globals.setdefault("__warningregistry__", {}),
                           module_globals=module_globals)


def push_bottom(mode: TorchFunctionMode) -> None:
    """Put `mode` at the bottom of torch's function-mode stack.

    A user's own mode entered later sits above it, so the user's `with mode:` pops the user's
    mode even when it exits while a window is open.
    """
    above = [torch._C._pop_torch_function_stack() for _ in range(torch._C._len_torch_function_stack())]
    torch._C._push_on_torch_function_stack(mode)
    for m in reversed(above):
        torch._C._push_on_torch_function_stack(m)


def remove_mode(mode: TorchFunctionMode) -> None:
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
