"""Every number a rule compares against, named once, with where its value comes from.

A threshold is a float that also carries its `source`, so rules compare with it directly
(`ratio < UPDATE_RATIO_NEGLIGIBLE`) and `table()` lists them all for the documentation. Values come
from other tools' published settings (research/anchors.md) or, where none exists, from a stated
argument; none is tuned to make one example pass.

Layout: one section per rules file, in the order of issue 3's list. Add a section of your own at the
end rather than editing another's.
"""

from __future__ import annotations


class Threshold(float):
    """A float with the reason for its value."""

    source: str

    def __new__(cls, value: float, source: str) -> Threshold:
        self = super().__new__(cls, value)
        self.source = source
        return self


def table() -> list[tuple[str, float, str]]:
    """(name, value, source) of every threshold defined in this module."""
    return [(name, float(v), v.source) for name, v in globals().items() if isinstance(v, Threshold)]


# == diag-wiring: rules/graph.py, membership.py, clearing.py, learning_rate.py, loss_trend.py,
# == step_size.py (issue 3, items 1-4, 7, 11) ======================================================

# -- the loss does not reach the parameters (graph.py) -----------------------------------------------
NEW_LAYER_REPEATS = Threshold(
    2, "nbgrad: layers of one type and shape that appear anew at 2 or more later steps are made "
    "inside forward(); one late appearance can be a model grown once on purpose")

# -- gradient clearing (clearing.py) ----------------------------------------------------------------
STALE_GRAD_FRACTION = Threshold(
    1e-3, "nbgrad: a leftover gradient under 1/1000 of the step's own changes its update by under "
    "0.1%; zeroed gradients are exactly 0, so anything above is a gradient not cleared")

# -- learning rate (learning_rate.py) ---------------------------------------------------------------
UPDATE_RATIO_NEGLIGIBLE = Threshold(
    1e-6, "update/param ratio: 2 decades below TheDeepChecker's lower bound (log10 |update| in "
    "[-4, -1], settings.yaml) and 3 below the ~1e-3 rule of thumb (anchors.md 5.7): a million "
    "steps to move a weight by its own size")
UPDATE_RATIO_HEALTHY_MIN = Threshold(
    1e-4, "TheDeepChecker's lower bound of a healthy update, log10 |update/param| >= -4 "
    "(anchors.md 2.7)")
LR_REFERENCE = Threshold(
    1e-3, "PyTorch's default lr of SGD and Adam: the updates a rule projects at an ordinary lr")

# -- loss over the recorded steps (loss_trend.py) ---------------------------------------------------
TREND_MIN_STEPS = Threshold(
    6, "nbgrad: the trend compares the mean of the first and last thirds of the steps, each of 2 "
    "steps at least, so one noisy step cannot decide it")
SAME_BATCH_TOLERANCE = Threshold(
    1e-6, "relative difference of two batches' sums below which they are the same batch (float32 "
    "sums of one tensor agree to its rounding, ~1e-7)")
LOSS_DIVERGE_FACTOR = Threshold(
    2.0, "TheDeepChecker: loss diverging when it reaches 2x its minimum (anchors.md 2.7); nbgrad "
    "compares the last third's mean with the first third's, so one low batch cannot decide it")
LOSS_DIVERGE_FACTOR_BATCHES = Threshold(
    10.0, "nbgrad: the losses of different mini-batches differ several-fold in correct loops, so "
    "across changing batches only a rise by an order of magnitude stands out")
LOSS_MIN_DECREASE = Threshold(
    0.05, "TheDeepChecker: loss not decreasing when it falls by under 5% per window "
    "(anchors.md 2.7); here the window is the recorded steps, first third vs last third")
LOSS_RISE = Threshold(
    0.01, "nbgrad: on one unchanging batch the loss is deterministic, so a rise of more than 1% "
    "from one step to the next is the step's doing, not noise")
UPDATE_RATIO_LARGE = Threshold(
    0.1, "TheDeepChecker's upper bound of a healthy update, log10 |update/param| <= -1 "
    "(anchors.md 2.7): each step changes the weights by a tenth of their size")
OVERSHOOT_RISES = Threshold(
    1 / 3, "nbgrad: share of steps after which the loss on the same batch rose by more than "
    "LOSS_RISE; small enough gradient steps never raise a smooth loss (the descent lemma), so "
    "regular rises are steps that overshoot")

# -- clipping, weight decay, loss scaling (step_size.py) --------------------------------------------
CLIP_CUT_FACTOR = Threshold(
    10, "nbgrad: a clip that trims spikes leaves most steps alone; one that divides every "
    "step's gradient by 10 or more is setting the step size itself")
DECAY_DOMINANCE = Threshold(
    1.0, "wd * |param| / |grad|: where a regularised model settles the two pulls are equal (the "
    "gradient of loss + wd/2 |param|^2 is zero); above 1 in every layer (median over the steps) "
    "decay wins from the start")
DECAY_SHRINK_PER_STEP = Threshold(
    1e-3, "lr * weight_decay: the share of its size a weight loses per step to decay alone; "
    "1e-3 is a whole healthy update (the ~1e-3 rule of thumb, anchors.md 5.7)")
SCALER_STUCK_SCALE = Threshold(
    1.0, "a GradScaler that still finds inf/NaN gradients at a scale below 1 is not overflowing "
    "because of its scale: the unscaled gradients themselves are not finite")
