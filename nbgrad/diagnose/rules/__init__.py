"""The registry of rules, in the order they run.

Codes are stable and grouped by what they are about (issue 3's items in brackets):
  NBG1xx the loss does not reach the parameters (1)   NBG2xx optimizer membership, frozen (2)
  NBG3xx clearing gradients, calling step() (3)       NBG4xx step size: lr, clipping, weight decay,
  NBG70x the loss over the steps (7)                         GradScaler (4, 11)
  NBG9xx the exceptions students hit, explained (13)
Left for the forward-side rules (5, 6, 7's reciprocal loss, 8, 9, 10, 12): NBG5xx, NBG6xx, NBG71x and
up, NBG8xx.
"""

from __future__ import annotations

from collections.abc import Callable

from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.diagnose.rules import (
    clearing,
    exceptions,
    graph,
    learning_rate,
    loss_trend,
    membership,
    step_size,
)
from nbgrad.records import Run

Rule = Callable[[Run], list[Diagnosis]]

RULES: list[Rule] = [
    *graph.RULES, *membership.RULES, *clearing.RULES, *learning_rate.RULES, *loss_trend.RULES,
    *step_size.RULES, *exceptions.RULES,
]
