"""The columns of every table the views show, defined once for the text, HTML and widget views.

A column names the attribute of the row objects it reads, its title, the word shown where there is
no number, and whether it holds numbers (right-aligned, sorted by value) or a long name (cut in the
middle, the whole name on hover).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbgrad.numbers import fmt

NO_GRAD = "no grad"


@dataclass(frozen=True)
class Column:
    key: str  # attribute of the row objects
    title: str
    missing: str = "—"  # what None is shown as
    numeric: bool = False
    name: bool = False
    show: Callable[[Any], str] | None = None  # the cell's text from the whole row (default: value)
    strong: Callable[[Any], bool] | None = None  # rows whose cell the widget shows in bold

    def text(self, row: Any) -> str:
        if self.show is not None:
            return self.show(row)
        value = getattr(row, self.key)
        if value is None:
            return self.missing
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return fmt(value)
        return str(value)


def pick(columns: Sequence[Column], *keys: str) -> list[Column]:
    by_key = {c.key: c for c in columns}
    return [by_key[k] for k in keys]


def zero_fraction(row: Any) -> str:
    """The zero fraction is counted only in the probe's windows; at an update outside them the row
    carries the last window's value, shown with the update it was measured at."""
    if row.grad_zero_fraction is None:
        return "—"
    measured_at = f" ({row.grad_zero_at})" if row.grad_zero_at else ""
    return fmt(row.grad_zero_fraction) + measured_at


LAYER = [
    Column("name", "layer", name=True), Column("type", "type"),
    Column("grad_norm", "grad norm", missing=NO_GRAD, numeric=True),
    Column("param_norm", "param norm", numeric=True),
    Column("update_norm", "update norm", missing="not stepped", numeric=True),
    Column("update_to_param_ratio", "update/param", numeric=True),
    Column("grad_zero_fraction", "zero grad frac", numeric=True, show=zero_fraction),
]

PARAM = [
    Column("name", "parameter", name=True), Column("layer", "layer", name=True),
    Column("optimizer", "optimizer", missing="none", show=lambda m: m.optimizer or "none"),
    Column("why_unmoved", "moved?", show=lambda m: m.why_unmoved or "moved",
           strong=lambda m: bool(m.why_unmoved)),
    Column("steps_moved", "updates that moved it", numeric=True,
           show=lambda m: f"{m.steps_moved} of {m.steps_seen}"),
    Column("path_length", "distance (sum of updates)", numeric=True),
    Column("last_ratio", "last update/param", numeric=True),
    Column("buffers", "state buffers before -> after", show=lambda m: "; ".join(m.buffers) or "—"),
]
UNMOVED = [*pick(PARAM, "name", "layer"), Column("why_unmoved", "why it did not move")]

LOSS = [  # rows: the outcome's updates
    Column("index", "step", numeric=True), Column("optimizer", "optimizer"),
    Column("losses", "loss (each backward call)", numeric=True,
           show=lambda u: ", ".join(fmt(v) for v in u.record.losses)),
    Column("backward_calls", "backward calls", numeric=True,
           show=lambda u: str(u.record.backward_calls)),
    Column("lr", "lr per group", numeric=True, show=lambda u: ", ".join(fmt(x) for x in u.record.lr)),
]

ACTIVATION = [
    Column("layer", "layer", name=True), Column("kind", "activation", missing="—"),
    # a ReLU has no flat end to saturate on, a sigmoid no dead units: not measured, not zero
    Column("saturated_fraction", "saturated fraction", missing="n/a", numeric=True),
    Column("dead_fraction", "dead fraction", missing="n/a", numeric=True),
    Column("mean_slope", "mean slope", missing="n/a", numeric=True),
    Column("step", "step", numeric=True),
]

TRIALS = [  # rows: views.TrialRow, one per fix tried (and all of them together)
    Column("fix", "fix"), Column("change", "change"),
    Column("loss", "loss first → last"),
    Column("found", "problems found"),
    Column("result", "result"),
]

RATES = [  # rows: views.RateRow, one per learning rate of a sweep
    Column("lr", "lr", numeric=True), Column("loss", "loss first → last"),
    Column("last", "last loss", numeric=True),
    Column("found", "problems found"), Column("chosen", "chosen"),
]
