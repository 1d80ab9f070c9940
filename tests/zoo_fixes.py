"""What trying the fix of each broken zoo loop shows (tests/zoo.py): one table, read by the
verification tests (tests/test_verify.py asserts every entry) and by the gallery generator
(tools/make_gallery.py writes the gallery's assert cells from it).

Every broken loop not named here has a fix as code that, tried from the state before the cell for
the loop's steps, makes its diagnosis go away and its loss end lower than the cell's own.
"""

from __future__ import annotations

# loops whose diagnosis has no fix as code, and why
NO_CODE = {
    "layer_forgotten_in_forward": "a note: an unused layer may be meant (a head for another task)",
    "no_residual": "the fix is a change of architecture (residual connections, normalisation)",
    "batchnorm_batch_one": "the batch size comes from the data pipeline; no one line sets it",
    "batchnorm1d_batch_one": "the batch of one is in the data; no one line of the cell sets it",
    "targets_shuffled_apart": "a note: why the loss stays flat is not known from the records",
    "log_softmax_into_ce": "a note: log_softmax before CrossEntropyLoss is harmless",
    "print_after_inner_loop": "a note: the check's own --steps stopped the loop; the cell is fine",
    # a classifier with one output trained by MSE: CrossEntropyLoss alone cannot fix it; the
    # last layer needs one output per class and the labels must be integers, three changes
    "mse_on_labels_one_output": "the last layer, the loss and the labels' dtype all change",
    # outputs of 3 columns, targets of 2: whether the model or the data has the wrong width is
    # not in the records
    "regression_target_width_crash": "which side has the wrong width is the user's choice",
}

# loops whose fix resolves the diagnosis but whose loss does not end lower in their few steps:
# the report must say so plainly, and be less certain of the diagnosis
NOT_SHOWN_IN_STEPS = {
    "sigmoid_deep": "the loss did not end lower",  # the sigmoid net fits the mean faster at first
    "hidden_state_not_detached": "the loss did not fall",  # each step is a new window of the series
    "inplace_on_saved_tensor": "the loss did not fall",  # its mini-batch losses rise in 10 steps
    # the clip, once before step(), holds every step to max_norm=0.1, far below the gradients'
    # norm (NBG404 then finds it too tight): the loss falls slower than with the unclipped steps
    "clip_after_step": "the loss did not end lower",
    # the labels are the argmax of 4 inputs: confident logits that turn right fall faster in 10
    # steps from their large start than the default init's from ln(4)
    "first_loss_far_above_chance": "the loss did not end lower",
    # the labels are the argmax of 4 inputs, a linear function: the linear model fits them at
    # least as well, and the ReLU net falls slower in 10 steps
    "no_activation_between_layers": "the loss did not end lower",
    # a rate decayed in the first steps quiets the last mini-batch losses; what it costs (no
    # learning after the first epoch) shows over epochs, not 10 steps
    "scheduler_stepped_per_batch": "the loss did not end lower",
    # the cell's loss is measured on the one batch it fits again at every step; the corrected
    # loop's on a new batch each step: the memorised batch's loss is lower in 10 steps
    "next_iter_every_step": "the loss did not end lower",
}
