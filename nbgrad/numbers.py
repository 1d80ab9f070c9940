"""How numbers read to a person: shared by the diagnoses' evidence and every renderer."""

from __future__ import annotations

import math


def fmt(value: float | None, missing: str = "—") -> str:
    """A number in 4 significant digits, scientific when very small or large."""
    if value is None:
        return missing
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"
