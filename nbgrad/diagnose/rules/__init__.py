"""The registry of rules, in the order they run.

Codes are stable and grouped by what they are about (issue 3's items in brackets):
  NBG1xx the loss does not reach the parameters (1)   NBG2xx optimizer membership, frozen (2)
  NBG3xx clearing gradients, calling step() (3)       NBG4xx step size: lr, clipping, weight decay,
  NBG50x gradients across depth, NaN/Inf (5)                 GradScaler (4, 11)
  NBG55x identical units: constant init (10)          NBG60x saturated / dead activations (6)
  NBG65x eval mode, BatchNorm on one example (9)      NBG70x the loss over the steps (7)
  NBG71x a loss that rewards moving away (7)          NBG80x loss-function misuse (8)
  NBG85x inputs or targets on the wrong scale (12)    NBG90x the exceptions students hit (13)
  NBG95x across the ranks of a torchrun job
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

# imported after Rule: the rule modules import this package's siblings only
from nbgrad.diagnose.rules import (  # noqa: E402
    activations,
    data_scale,
    depth,
    loss_direction,
    loss_misuse,
    nonfinite,
    ranks,
    symmetry,
    train_mode,
)

RULES: list[Rule] = [
    # what the recorded steps show (issue 3, items 1-4, 7, 11, 13)
    *graph.RULES, *membership.RULES, *clearing.RULES, *learning_rate.RULES, *loss_trend.RULES,
    *step_size.RULES, *exceptions.RULES,
    # what the forward pass shows (issue 3, items 5-10, 12)
    nonfinite.nonfinite_values,
    depth.gradients_across_depth,
    activations.saturated_activations,
    activations.dead_relus,
    loss_direction.loss_pushes_away,
    loss_misuse.loss_input_misuse,
    loss_misuse.loss_target_misuse,
    train_mode.eval_mode_training,
    train_mode.batchnorm_batch_of_one,
    symmetry.identical_units,
    data_scale.input_scale,
    data_scale.target_scale,
    # across the ranks of a torchrun job (only when the run holds several ranks)
    *ranks.RULES,
]
