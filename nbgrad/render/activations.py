"""Activation saturation and dead-unit fractions per activation, when the run recorded them.

The records come from the forward probe (`Run.forward.activations`: one record per activation and
watched step, with `layer`, `kind`, `after`, `step`, `units`, `saturated_fraction`, `dead_units`,
`mean_slope`).
They are read by attribute or key, so a run without forward records (older JSON, a probe that did
not run) simply has no rows, and renderers leave the Activations panel out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbgrad.records import Run


@dataclass
class ActivationRow:
    layer: str  # what a person recognises: the layer whose output it received, else its module
    kind: str  # sigmoid / tanh / relu, "" when unknown
    saturated_fraction: float | None  # None: not measured (e.g. relu does not saturate)
    dead_fraction: float | None  # units zero for every sample, over all units
    step: int | None  # the step the numbers come from
    mean_slope: float | None = None  # the factor the activation passes gradients back with


def _get(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else getattr(record, key, None)


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _row(record: Any) -> ActivationRow:
    after, layer = _get(record, "after") or "", _get(record, "layer") or ""
    dead, units = _get(record, "dead_units"), _get(record, "units")
    dead_fraction = _fraction(dead / units) if isinstance(dead, int) and units else None
    return ActivationRow(str(after or layer), str(_get(record, "kind") or ""),
                         _fraction(_get(record, "saturated_fraction")), dead_fraction,
                         _get(record, "step"), _fraction(_get(record, "mean_slope")))


def activation_rows(run: Run) -> list[ActivationRow]:
    """Each activation's latest record, in the order activations were first recorded."""
    records = _get(getattr(run, "forward", None) or {}, "activations") or []
    rows: dict[tuple[str, str, str], ActivationRow] = {}
    for record in records:
        key = (str(_get(record, "layer")), str(_get(record, "after")), str(_get(record, "kind")))
        row = _row(record)
        if row.saturated_fraction is None and row.dead_fraction is None:
            continue
        if key not in rows or (row.step or 0) >= (rows[key].step or 0):
            rows[key] = row
    return list(rows.values())
