"""The numbers the forward-pass rules compare against, each with where its value comes from.

Same shape as `thresholds.py` (a float that carries its `source`), so the two files merge into one.
Values come from other tools' published settings (research/anchors.md) or from a stated argument;
none is tuned to make one example pass.
"""

from __future__ import annotations

import math


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


# == diag-forward: rules/depth.py, activations.py, loss_direction.py, loss_misuse.py, train_mode.py,
# == symmetry.py, data_scale.py (issue 3, items 5-10, 12) =========================================

# -- activations (capture/probe.py measures, rules/activations.py judges) --------------------------
SATURATION_SLOPE = Threshold(
    4 * (1 / (1 + math.exp(5))) * (1 - 1 / (1 + math.exp(5))),
    "a unit is saturated where its slope is below this share of the function's largest slope: "
    "DeepDiagnosis calls sigmoid/tanh saturated beyond |x| > 5 (callbacks.py), where sigmoid keeps "
    "2.7% of its slope; for tanh the same share is reached at |x| > 2.5")
SATURATED_SHARE = Threshold(
    0.5, "DeepDiagnosis (>50% of values beyond +-5) and TheDeepChecker (saturation for >50% of "
    "neurons, settings.yaml)")
DEAD_SHARE = Threshold(
    0.7, "DeepDiagnosis (>=70% of activations <= 0, callbacks.py) and AUTOTRAINER (gamma = 0.7); "
    "TheDeepChecker's 50% fires on correct nets: a default-initialised 5-layer ReLU MLP has "
    "31-52% of its last hidden units zero over 64 samples (measured, 30 seeds and widths)")
DEAD_MIN_SAMPLES = Threshold(
    16, "a healthy ReLU unit that fires on half its inputs is zero on 16 samples with probability "
    "0.5**16 = 1.5e-5: fewer samples per unit cannot tell dead from unlucky")

# -- gradients across depth (rules/depth.py) --------------------------------------------------------
VANISH_RATIO = Threshold(
    1e-3, "AUTOTRAINER: first-layer / last-layer gradient norm below beta1 = 1e-3 is a vanishing "
    "gradient (reproduce.py params)")
EXPLODE_RATIO = Threshold(
    70, "AUTOTRAINER: first-layer / last-layer gradient norm above beta3 = 70 is an exploding "
    "gradient (reproduce.py params)")
SHRINK_NOTE_RATIO = Threshold(
    0.1, "nbgrad: an order of magnitude between the first and the last layer is worth a note, "
    "but only with a measured cause (below) and never above 'info'")
ACTIVATION_SHRINK = Threshold(
    0.1, "nbgrad: the activations between the layers account for the shrink when the product of "
    "their measured mean slopes is itself an order of magnitude (two sigmoids: at most 0.25**2)")
INIT_GAIN_LOW = Threshold(
    0.1, "weight std * sqrt(fan_in): LeCun/Glorot/He init give 1 to 1.41 and PyTorch's default "
    "0.58; an order of magnitude below LeCun shrinks the signal 10x per layer")
BIAS_SCALE_HIGH = Threshold(
    10, "a bias an order of magnitude larger (RMS) than PyTorch's default U(-1/sqrt(fan_in), "
    "1/sqrt(fan_in)) shifts every pre-activation far from 0")
INIT_GAIN_HIGH = Threshold(
    3, "weight std * sqrt(fan_in): about twice the largest gain torch.nn.init.calculate_gain "
    "recommends (5/3 for tanh, sqrt(2) for ReLU); nn.init.normal_(w) (std 1) on 20 inputs gives 4.5")

# -- loss direction (rules/loss_direction.py) -------------------------------------------------------
AWAY_COSINE = Threshold(
    -0.5, "cosine between the loss's descent direction on the predictions and (target - "
    "prediction): MSE, L1 and Huber give > 0; below -0.5 the step moves predictions away from the "
    "targets within 60 degrees of straight away (1 / mse gives exactly -1)")

# -- loss misuse (rules/loss_misuse.py) -------------------------------------------------------------
PROBABILITY_SUM_TOLERANCE = Threshold(
    1e-3, "rows that sum to 1 within 1e-3 with every value in [0, 1] are probabilities: float32 "
    "softmax rows sum to 1 within ~1e-6, raw scores almost never do")

# -- data scale (rules/data_scale.py) ---------------------------------------------------------------
INPUT_SCALE_MAX = Threshold(
    10, "max(|mean|, std) of the model's input: init schemes (LeCun, Glorot, He) assume unit-"
    "variance inputs; TheDeepChecker expects inputs in [0, 1] or [-1, 1]; 10x beyond that scales "
    "every first-layer pre-activation 10x (raw 0-255 pixels: ~100)")
TARGET_SCALE_MAX = Threshold(
    100, "max(|mean|, std) of a regression target: a default-initialised model outputs values of "
    "order 1, so targets two orders of magnitude larger take thousands of steps to reach")
STALL_MIN_DROP = Threshold(
    0.05, "TheDeepChecker: loss not decreasing when it falls by less than 5% per window "
    "(settings.yaml); here the window is the recorded steps")

# -- identical units (rules/symmetry.py) ------------------------------------------------------------
IDENTICAL_ROWS = Threshold(
    1e-6, "rows count as identical when they differ by under 1e-6 of the largest entry: float32 "
    "rounding (eps 1.2e-7) of identical computations stays below it, random init is far above")
