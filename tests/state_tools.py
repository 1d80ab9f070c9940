"""Bit-for-bit pictures of training state, taken independently of nbgrad's own snapshot code."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import torch
from torch import nn


def bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bytes of a tensor: NaN equals NaN, -0.0 differs from 0.0."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8) if flat.numel() else flat.to(torch.uint8)


def rng_states() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "random": random.getstate()}


def picture(obj: Any) -> Any:
    """Everything that makes up the state of a model / optimizer / scheduler / scaler / tensor."""
    if isinstance(obj, nn.Module):
        out: dict[str, Any] = {"mode": [(n, m.training) for n, m in obj.named_modules()]}
        for name, p in obj.named_parameters(remove_duplicate=False):
            out[f"p.{name}"] = (p.clone(), p.requires_grad, None if p.grad is None else p.grad.clone())
        for name, b in obj.named_buffers(remove_duplicate=False):
            out[f"b.{name}"] = b.clone()
        return out
    if isinstance(obj, torch.optim.Optimizer):
        return copy.deepcopy(obj.state_dict())
    if isinstance(obj, torch.Tensor):
        return (obj.clone(), None if obj.grad is None else obj.grad.clone())
    return copy.deepcopy(obj.state_dict())


def same(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two pictures differ (empty when bit for bit equal)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return [where]
        if a.dtype != b.dtype or a.shape != b.shape or not torch.equal(bits(a), bits(b)):
            return [where]
        return []
    if isinstance(a, np.ndarray):
        return [] if np.array_equal(a, b) else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where} keys {sorted(map(str, a))} != {sorted(map(str, b))}"]
        return [d for k in a for d in same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} length"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return []
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def pictures(namespace: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out = {name: picture(namespace[name]) for name in names}
    out["rng"] = rng_states()
    return out
