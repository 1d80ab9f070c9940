"""The learning rates a sweep tries: a few powers of ten on the side the diagnosis points to.

A learning-rate diagnosis knows the direction (too small, too large, zero) and the rule suggests
one rate; a sweep tries that rate and its neighbours a power of ten apart, each from the same
state for the same steps, and the best one becomes the suggested line. A few steps rank rates for
these steps; they do not choose a schedule.
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


def candidates(run: Run, d: Diagnosis) -> list[tuple[float, Edit]]:
    """(rate, the edit that sets it) for each rate of the sweep, in increasing order; [] when the
    diagnosis is not a learning rate's, or its line does not write `lr=`."""
    if d.code not in SWEPT or d.line is None or not d.fix_code:
        return []
    text = run.cell_line(d.line)
    current, suggested = _lr_of(text), _lr_of(d.fix_code)
    if current is None or suggested is None or suggested <= 0:
        return []
    exponent = round(math.log10(suggested))
    if d.code in TOO_SMALL:
        powers = range(exponent - 2, exponent + 3)  # around the suggestion, above the current rate
        rates = [10.0 ** k for k in powers if 10.0 ** k > current]
    else:
        rates = [10.0 ** k for k in range(exponent - MAX_CANDIDATES + 1, exponent + 1)
                 if 10.0 ** k < current]  # the suggestion and below: a diverging rate goes down
    rates = sorted(r for r in rates if LOWEST <= r <= HIGHEST)[-MAX_CANDIDATES:] \
        if d.code in TOO_LARGE else sorted(r for r in rates if LOWEST <= r <= HIGHEST)[:MAX_CANDIDATES]
    out = []
    for rate in rates:
        line = facts.with_keyword(text, "lr", literal(rate))
        if line:
            out.append((rate, Edit(d.line, "replace", line)))
    return out if len(out) >= 3 else []
