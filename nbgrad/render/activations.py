"""Activation saturation and dead-unit fractions per activation, when the run recorded them.

The records come from the forward probe (`Run.forward.activations`: one record per activation and
watched step). A run without them (a probe that did not run) simply has no rows, and renderers
leave the Activations panel out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nbgrad.records import ActivationRecord, Run


@dataclass
class ActivationRow:
    layer: str  # what a person recognises: the layer whose output it received, else its module
    kind: str  # sigmoid / tanh / relu, "" when unknown
    saturated_fraction: float | None  # None: does not apply (a relu does not saturate)
    dead_fraction: float | None  # units zero for every sample, over all units
    step: int | None  # the step the numbers come from
    mean_slope: float | None = None  # the factor the activation passes gradients back with


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _row(record: ActivationRecord, run: Run) -> ActivationRow:
    name = record.after or record.layer
    return ActivationRow(run.written.get(name, name), record.kind,
                         _number(record.saturated_fraction), _number(record.dead_fraction),
                         record.step, _number(record.mean_slope))


def activation_rows(run: Run) -> list[ActivationRow]:
    """Each activation's latest record, in the order activations were first recorded."""
    rows: dict[tuple[str, str, str], ActivationRow] = {}
    for record in run.forward.activations:
        row = _row(record, run)
        if row.saturated_fraction is None and row.dead_fraction is None:
            continue
        key = (record.layer, record.after, record.kind)
        if key not in rows or (row.step or 0) >= (rows[key].step or 0):
            rows[key] = row
    return list(rows.values())
