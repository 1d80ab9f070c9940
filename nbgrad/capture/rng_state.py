"""The random number generators a check must leave as they were.

The global ones (torch's CPU generator, each CUDA device's once CUDA is initialised, NumPy's legacy
global state when NumPy is loaded, Python's `random`), and generator objects the user holds
(`torch.Generator`, `numpy.random.Generator` / `RandomState`, `random.Random`). CUDA generators are
left alone when CUDA was not initialised before the cell: reading them would initialise it.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from typing import Any

import torch

# (label, read, write) for each generator: write(read()) must put it back exactly
Entry = tuple[str, Callable[[], Any], Callable[[Any], object]]  # setters may return (Generator.set_state)


def _globals() -> list[Entry]:
    entries: list[Entry] = [("torch", torch.get_rng_state, torch.set_rng_state)]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        entries.append(("cuda", torch.cuda.get_rng_state_all, torch.cuda.set_rng_state_all))
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        entries.append(("mps", mps.get_rng_state, mps.set_rng_state))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        entries.append(("numpy", numpy.random.get_state, numpy.random.set_state))
    entries.append(("random", random.getstate, random.setstate))
    return entries


def _held(name: str, gen: Any) -> Entry:
    if isinstance(gen, torch.Generator):
        return name, gen.get_state, gen.set_state
    if isinstance(gen, random.Random):
        return name, gen.getstate, gen.setstate
    if hasattr(gen, "bit_generator"):  # numpy.random.Generator
        bits = gen.bit_generator
        return name, lambda: bits.state, lambda s: setattr(bits, "state", s)
    return name, gen.get_state, gen.set_state  # numpy.random.RandomState


Saved = list[tuple[str, Callable[[Any], object], Any]]


def capture(held: list[tuple[str, Any]]) -> Saved:
    saved: Saved = []
    for label, read, write in _globals() + [_held(n, g) for n, g in held]:
        try:
            saved.append((label, write, read()))
        except Exception:  # a generator that cannot be read is not promised back
            continue
    return saved


def restore(saved: Saved) -> tuple[list[str], list[str]]:
    """Write every saved state back; returns (labels restored, 'label: reason' failures)."""
    done, failed = [], []
    for label, write, state in saved:
        try:
            write(state)
            done.append(label)
        except Exception as error:
            failed.append(f"RNG {label}: {type(error).__name__}: {error}")
    return done, failed
