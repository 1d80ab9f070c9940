"""The TorchFunctionMode that lets the probe see every torch call during a window.

The mode sits on torch's function-mode stack only while a window is open. It must leave the user's
code unchanged: results, exceptions and the location warnings point at are the same as without it.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

if TYPE_CHECKING:
    from nbgrad.capture.probe import Probe

from nbgrad.capture.probe_raw import CLASS_LOSSES, ELEMENTWISE_LOSSES

TORCH_DISPATCH = ("overrides.py",)  # torch's handle_torch_function frames


class ProbeMode(TorchFunctionMode):
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
            probe.safely(probe.losses_seen.on_loss, name, args, kwargs)
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:  # type: ignore[assignment]
                warnings.simplefilter("always")
                out = func(*args, **kwargs)
        finally:
            for warning in caught:
                _reissue(warning, func)
        if isinstance(out, torch.Tensor):
            probe.safely(probe.on_op, name, args, out)
        return out


def _reissue(warning: warnings.WarningMessage, func: Any) -> None:
    """Emit a warning raised inside `func` again, pointing where it would point without the mode.

    A torch warning with stacklevel=2 names the caller of the torch function, which the mode made
    this file; it is moved to the frame that called the torch function in the first place.
    """
    __tracebackhide__ = True
    filename, lineno = warning.filename, warning.lineno
    module_globals: dict[str, Any] | None = None
    if filename == __file__:
        code = getattr(func, "__code__", None)
        frame = sys._getframe(1)
        while frame is not None and (frame.f_code.co_filename == __file__ or frame.f_code is code
                                     or frame.f_code.co_filename.endswith(TORCH_DISPATCH)):
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            filename, lineno, module_globals = frame.f_code.co_filename, frame.f_lineno, frame.f_globals
    if module_globals is None:
        module = next((m for m in list(sys.modules.values())
                       if getattr(m, "__file__", None) == filename), None)
        module_globals = vars(module) if module is not None else {}
    warnings.warn_explicit(warning.message, warning.category, filename, lineno,
                           module=module_globals.get("__name__"),
                           registry=module_globals.setdefault("__warningregistry__", {}),
                           module_globals=module_globals or None)


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
