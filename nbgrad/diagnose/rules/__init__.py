"""The registry of rules, in the order they run.

Every rule is a function `run -> [Diagnosis]` in one of these modules; they all stand on one floor:
each imports the facts layer (`nbgrad.diagnose.facts`) and the catalogue, never another rule. Codes,
slugs and severities are declared in `nbgrad.diagnose.catalogue`.
"""

from __future__ import annotations

from collections.abc import Callable

from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.diagnose.rules import (
    activations,
    batches,
    class_labels,
    clearing,
    data_scale,
    depth,
    exceptions,
    first_loss,
    graph,
    init_scale,
    learning_rate,
    linearity,
    loss_axes,
    loss_direction,
    loss_misuse,
    loss_shape,
    loss_trend,
    membership,
    mid_epoch,
    nonfinite,
    penalty,
    ranks,
    sequences,
    step_size,
    symmetry,
    train_mode,
)
from nbgrad.records import Run

Rule = Callable[[Run], list[Diagnosis]]

RULES: list[Rule] = [
    # what the recorded steps show: wiring, clearing, step size, the loss, the cell's exception
    *graph.RULES, *membership.RULES, *clearing.RULES, *learning_rate.RULES, *loss_trend.RULES,
    *step_size.RULES, *exceptions.RULES, *loss_shape.RULES, *mid_epoch.RULES,
    # what the forward pass shows: depth, NaN/Inf, activations, the loss function, modes, data
    nonfinite.nonfinite_values,
    depth.gradients_across_depth,
    activations.saturated_activations,
    activations.dead_relus,
    linearity.linear_chains,
    loss_direction.loss_pushes_away,
    loss_misuse.loss_input_misuse,
    loss_misuse.loss_target_misuse,
    train_mode.eval_mode_training,
    train_mode.batchnorm_batch_of_one,
    symmetry.identical_units,
    init_scale.init_too_large,
    first_loss.first_loss_far_from_chance,
    data_scale.input_scale,
    data_scale.target_scale,
    # what the watched iterations show about the data and the loss's axes
    *loss_axes.RULES, *batches.RULES, *sequences.RULES, *class_labels.RULES,
    penalty.penalty_dominates,
    # across the ranks of a torchrun job (only when the run holds several ranks)
    *ranks.RULES,
]
