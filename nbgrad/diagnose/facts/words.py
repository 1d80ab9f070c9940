"""How evidence names things and numbers, so every rule says them the same way."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

from nbgrad import numbers


def names(items: Iterable[str], limit: int = 4) -> str:
    """'a, b, c and 2 more' for evidence lines."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def layer_names(items: Iterable[str], limit: int = 4) -> str:
    """'layer fc1' / 'layers 0, 2': bare layer names (Sequential's are numbers) read as names."""
    items = list(items)
    return ("layer " if len(items) == 1 else "layers ") + names(items, limit)


def fmt(value: float | None) -> str:
    """A number as evidence shows it ("none" when there is none)."""
    return numbers.fmt(value, missing="none")


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def power_of_ten(value: float) -> str:
    """The power of ten nearest to `value` on a log scale, written as a literal (`1e-3`, `0.1`).
    A value that under- or overflowed (a suggestion computed from a learning rate of 5e-324) is
    taken at the end of the float range it left."""
    value = min(max(value, sys.float_info.min), sys.float_info.max) if value == value else 1.0
    exponent = round(math.log10(value))
    return f"{10.0 ** exponent:g}" if -4 <= exponent <= 3 else f"1e{exponent}"


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]
