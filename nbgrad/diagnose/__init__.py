"""Pure rules over a recorded run: `diagnose(run) -> [Diagnosis]`.

Rules never touch torch objects, never print; each one reads the records and returns diagnoses.
"""

from __future__ import annotations

from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, fold_consequences, ordered
from nbgrad.diagnose.rules import RULES
from nbgrad.records import Run

__all__ = ["RULES", "Diagnosis", "Evidence", "diagnose"]


def diagnose(run: Run, error: BaseException | None = None) -> list[Diagnosis]:
    """Every rule's findings on `run`, consequences folded into their causes, most severe first."""
    from nbgrad.diagnose import fixes

    found: list[Diagnosis] = []
    for rule in RULES:
        found.extend(rule(run))
    diagnoses = ordered(fold_consequences(found))
    fixes.settle(run, diagnoses)  # each fix as the edits of the cell, every line of it
    return diagnoses
