"""The learning rates a sweep tries: a few powers of ten on the side the diagnosis points to.

A learning-rate diagnosis knows the direction (too small, too large, zero); a sweep tries a few
rates a power of ten apart, each from the same state for the same steps, and the best one becomes
the suggested line. Where the cell builds the optimizer, the sweep changes its `lr=`; where an
earlier cell built it, the cell sets the rate of its param groups first (the check restores the
optimizer afterwards, as it restores everything). A few steps rank rates for these steps; they do
not choose a schedule.
"""

from __future__ import annotations

import math
import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.diagnosis import Diagnosis, Edit
from nbgrad.records import Run

TOO_SMALL = ("NBG401", "NBG402")
TOO_LARGE = ("NBG403", "NBG703")
SWEPT = TOO_SMALL + TOO_LARGE
MAX_CANDIDATES = 5
HIGHEST = 10.0  # no sweep tries a rate above this
LOWEST = 1e-7
USUAL = [10.0 ** k for k in range(-4, 1)]  # 1e-4 .. 1: where a rate is looked for upwards
NOTE = ("a few steps rank learning rates for these steps; they do not choose a schedule (warm-up, "
        "decay), and the best rate for longer training may be lower")


def literal(rate: float) -> str:
    """A rate as a person writes it in code: 0.01, 0.0001, 1e-05."""
    return f"{rate:g}"


def _lr_of(text: str) -> float | None:
    found = re.search(r"\blr\s*=\s*([0-9.eE+-]+)", text)
    try:
        return float(found.group(1)) if found else None
    except ValueError:
        return None


def optimizer_of(run: Run, d: Diagnosis) -> int | None:
    """The optimizer the diagnosis names ('opt' in its title or fix), by index."""
    named = set(re.findall(r"'(\w+)'", f"{d.title} {d.fix}"))
    return next((i for i, o in enumerate(run.optimizers) if o.name in named), None)


def outside(run: Run, d: Diagnosis) -> str | None:
    """The name of the optimizer when an earlier cell built it (no line of this cell sets its
    rate), else None."""
    oi = optimizer_of(run, d)
    if d.code not in SWEPT or oi is None or (
            d.line is not None and _lr_of(run.cell_line(d.line)) is not None):
        return None
    name = run.optimizers[oi].name
    return name if name.isidentifier() else None


def _setting(run: Run, name: str, rate: float) -> Edit:
    """The rate set on the optimizer's param groups at the top of the cell."""
    return Edit(run.first_line, "before",
                f"for group in {name}.param_groups:  # built before this cell\n"
                f"    group[\"lr\"] = {literal(rate)}")


def _rates(d: Diagnosis, current: float, suggested: float | None) -> list[float]:
    if d.code in TOO_LARGE:
        top = round(math.log10(suggested if suggested else current / 10))
        rates = [10.0 ** k for k in range(top - MAX_CANDIDATES + 1, top + 1) if 10.0 ** k < current]
        return sorted(r for r in rates if LOWEST <= r <= HIGHEST)[-MAX_CANDIDATES:]
    if suggested:  # around the suggestion, above the current rate
        k = round(math.log10(suggested))
        rates = [10.0 ** j for j in range(k - 2, k + 3) if 10.0 ** j > current]
    else:
        rates = [r for r in USUAL if r > current]
    return sorted(r for r in rates if LOWEST <= r <= HIGHEST)[:MAX_CANDIDATES]


def candidates(run: Run, d: Diagnosis) -> list[tuple[float, Edit]]:
    """(rate, the edit that sets it) for each rate of the sweep, in increasing order; [] when the
    diagnosis is not a learning rate's, or no line of the cell can set the rate."""
    if d.code not in SWEPT:
        return []
    name = outside(run, d)
    if name is not None:
        oi = optimizer_of(run, d)
        assert oi is not None
        lrs = facts.lr_series(run, oi)
        if not lrs:
            return []
        return [(rate, _setting(run, name, rate)) for rate in _rates(d, lrs[0], None)]
    if d.line is None or not d.fix_code:
        return []
    text = run.cell_line(d.line)
    current, suggested = _lr_of(text), _lr_of(d.fix_code)
    if current is None or suggested is None or suggested <= 0:
        return []
    out = []
    for rate in _rates(d, current, suggested):
        line = facts.with_keyword(text, "lr", literal(rate))
        if line:
            out.append((rate, Edit(d.line, "replace", line)))
    return out if len(out) >= 3 else []


def proposal(run: Run, d: Diagnosis) -> tuple[list[Edit], str] | None:
    """For an optimizer built before the cell: the edit that sets a rate in the middle of the
    sweep, and the words that say where the rate really belongs."""
    name = outside(run, d)
    found = candidates(run, d) if name else []
    if not found:
        return None
    _, edit = found[len(found) // 2]
    return [edit], (f"{d.fix.rstrip('.')}. '{name}' is built before this cell: change lr= where "
                    "it is built, or set the rate of its param groups at the top of this cell.")
