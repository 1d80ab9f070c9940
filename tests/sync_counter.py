"""Counts the calls by which nbgrad's code would wait on a device or copy between devices.

Kept out of the test module on purpose: nbgrad's stop guard traces the lines of the file that
started a capture, and the counter must put torch back however the loop ended.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import nbgrad

NBGRAD_DIR = str(Path(nbgrad.__file__).parent)
TORCH_DIR = str(Path(torch.__file__).parent)
PULLS = ["item", "tolist", "cpu", "cuda", "numpy", "__float__", "__int__", "__bool__", "__index__",
         "new_tensor"]
FACTORIES = ["tensor", "as_tensor", "asarray", "zeros", "ones", "full", "empty", "arange",
             "linspace", "eye", "rand", "randn", "randint", "zeros_like", "ones_like", "full_like",
             "empty_like", "rand_like", "randn_like"]


# nbgrad's wrappers that call torch for the user (the user's backward(), clip_grad_norm_, a torch
# call the probe's function mode passes on): what torch does inside is the user's, not nbgrad's
FORWARDERS = {("session.py", "backward"), ("session.py", "zero_grad"),
              ("session.py", "clip_grad_norm_"), ("amp.py", "scale"), ("amp.py", "step"),
              ("probe_mode.py", "__torch_function__"), ("probe_mode.py", "_call_keeping_warnings")}


def _is_device(value: object) -> bool:
    return isinstance(value, (str, torch.device, int)) and not isinstance(value, bool)


def _to_names_a_device(args: tuple, kwargs: dict) -> bool:
    """`.to(...)` with a device, or with a tensor whose device it takes."""
    return "device" in kwargs or any(_is_device(a) or isinstance(a, torch.Tensor) for a in args)


class SyncCounter:
    """Counts the calls above made by nbgrad's code (the first frame outside torch is nbgrad's)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._saved: list[tuple[object, str, object]] = []

    def _caller_is_nbgrad(self) -> str | None:
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename.startswith(TORCH_DIR):
            frame = frame.f_back
        if frame is None:
            return None
        filename = frame.f_code.co_filename
        if not filename.startswith(NBGRAD_DIR):
            return None
        if (Path(filename).name, frame.f_code.co_name) in FORWARDERS:
            return None
        return f"{filename}:{frame.f_lineno}"

    def _wrap(self, owner: object, name: str, counts: object) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, owner.__dict__.get(name, original)))  # type: ignore[attr-defined]

        def counting(*args, _orig=original, _name=name, **kwargs):
            if counts(args[1:] if owner is torch.Tensor else args, kwargs):  # type: ignore[operator]
                where = self._caller_is_nbgrad()
                if where is not None:
                    self.calls.append(f"{_name} from {where}")
            return _orig(*args, **kwargs)

        setattr(owner, name, counting)

    def __enter__(self) -> SyncCounter:
        for name in PULLS:
            self._wrap(torch.Tensor, name, lambda args, kwargs: True)
        self._wrap(torch.Tensor, "to", _to_names_a_device)
        for name in FACTORIES:
            self._wrap(torch, name, lambda args, kwargs: kwargs.get("device") is not None)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
