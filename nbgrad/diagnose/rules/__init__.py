"""The registry of rules, in the order they run."""

from __future__ import annotations

from collections.abc import Callable

from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.records import Run

Rule = Callable[[Run], list[Diagnosis]]

RULES: list[Rule] = []
