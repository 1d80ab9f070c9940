"""Activation saturation and dead-unit fractions per layer, when the run recorded them.

Activation records are optional (older runs and runs without forward statistics have none), so
they are read by duck typing: per step `StepRecord.activations` or per run `Run.activations`, each a
mapping layer -> stats with a saturated and/or dead fraction (attributes or dict keys). No records:
no rows, and renderers leave the Activations panel out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbgrad.records import Run

SATURATED_KEYS = ("saturated_fraction", "saturation_fraction", "saturated")
DEAD_KEYS = ("dead_fraction", "dead_unit_fraction", "dead_units_fraction", "dead")
KIND_KEYS = ("activation", "kind", "nonlinearity", "type")


@dataclass
class ActivationRow:
    layer: str
    kind: str  # the nonlinearity when the record says it, else ""
    saturated_fraction: float | None
    dead_fraction: float | None
    step: int | None  # the step the numbers come from; None for per-run records


def _get(stats: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = stats.get(key) if isinstance(stats, Mapping) else getattr(stats, key, None)
        if value is not None:
            return value
    return None


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _row(layer: str, stats: Any, step: int | None) -> ActivationRow | None:
    if isinstance(stats, (list, tuple)):  # per-run record holding one entry per step
        stats = stats[-1] if stats else None
    if stats is None:
        return None
    saturated = _fraction(_get(stats, SATURATED_KEYS))
    dead = _fraction(_get(stats, DEAD_KEYS))
    if saturated is None and dead is None:
        return None
    kind = _get(stats, KIND_KEYS)
    return ActivationRow(layer, str(kind) if kind else "", saturated, dead, step)


def activation_rows(run: Run) -> list[ActivationRow]:
    """Each layer's latest recorded fractions, in the order layers were first recorded."""
    rows: dict[str, ActivationRow] = {}
    for rec in run.steps:
        per_layer = getattr(rec, "activations", None)
        if isinstance(per_layer, Mapping):
            for layer, stats in per_layer.items():
                row = _row(str(layer), stats, rec.index)
                if row is not None:
                    rows[row.layer] = row
    per_run = getattr(run, "activations", None)
    if not rows and isinstance(per_run, Mapping):
        for layer, stats in per_run.items():
            row = _row(str(layer), stats, None)
            if row is not None:
                rows[row.layer] = row
    return list(rows.values())
