"""The registry of rules, in the order they run.

Forward-pass rules (issue 3's items in brackets; the wiring rules use NBG1xx-4xx, NBG70x, NBG9xx):
  NBG50x gradients across depth, NaN/Inf (5)   NBG55x identical units: constant init (10)
  NBG60x saturated / dead activations (6)      NBG65x eval mode, BatchNorm on one example (9)
  NBG71x a loss that rewards moving away (7)   NBG80x loss-function misuse (8)
  NBG85x inputs or targets on the wrong scale (12)
"""

from __future__ import annotations

from collections.abc import Callable

from nbgrad.diagnose.diagnosis import Diagnosis
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
    symmetry,
    train_mode,
)

RULES: list[Rule] = [
    # -- diag-forward: what the forward pass shows (issue 3, items 5-10, 12) --
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
]
