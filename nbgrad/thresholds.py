"""Every number a rule compares against, named once, with where its value comes from.

A threshold is a float that also carries its `source`, so rules compare with it directly
(`ratio < UPDATE_RATIO_NEGLIGIBLE`) and `table()` lists them all for the documentation. Values come
from other tools' published settings (TheDeepChecker's settings.yaml, AUTOTRAINER's and
DeepDiagnosis's code) or, where none exists, from a stated
argument; none is tuned to make one example pass.

Layout: one section per rules file. Capture reads a few of these too (what counts as a saturated
unit is decided when activations are reduced on the device), which is why this module sits at the
top of the package rather than inside diagnose/.
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


# == what the recorded steps show: rules/graph.py, membership.py, clearing.py, learning_rate.py,
# == loss_trend.py, step_size.py =====================================================================

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
    "[-4, -1], settings.yaml) and 3 below the ~1e-3 update/weight rule of thumb (torchmortem and "
    "CS231n aim at ~1e-3): a million steps to move a weight by its own size")
UPDATE_RATIO_HEALTHY_MIN = Threshold(
    1e-4, "TheDeepChecker's lower bound of a healthy update, log10 |update/param| >= -4 "
    "(settings.yaml)")
LR_DECAY_COLLAPSE = Threshold(
    10, "nbgrad: a schedule spreads its decay over the whole run; one that cuts the rate by an "
    "order of magnitude within the first tens of steps nbgrad records ends the run at a rate "
    "near 0")
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
    2.0, "TheDeepChecker: loss diverging when it reaches 2x its minimum (settings.yaml); nbgrad "
    "compares the last third's mean with the first third's, so one low batch cannot decide it")
LOSS_DIVERGE_FACTOR_BATCHES = Threshold(
    10.0, "nbgrad: the losses of different mini-batches differ several-fold in correct loops, so "
    "across changing batches only a rise by an order of magnitude stands out")
LOSS_MIN_DECREASE = Threshold(
    0.05, "TheDeepChecker: loss not decreasing when it falls by under 5% per window "
    "(settings.yaml); here the window is the recorded steps, first third vs last third")
LOSS_RISE = Threshold(
    0.01, "nbgrad: on one unchanging batch the loss is deterministic, so a rise of more than 1% "
    "from one step to the next is the step's doing, not noise")
UPDATE_RATIO_LARGE = Threshold(
    0.1, "TheDeepChecker's upper bound of a healthy update, log10 |update/param| <= -1 "
    "(settings.yaml): each step changes the weights by a tenth of their size")
UPDATE_RATIO_REPLACES = Threshold(
    1.0, "update/param ratio: a step that moves a layer's weights by their own size or more "
    "replaces them instead of adjusting them; 10x TheDeepChecker's upper bound of a healthy update "
    "(log10 |update/param| <= -1, settings.yaml)")
OVERSHOOT_RISES = Threshold(
    1 / 3, "nbgrad: share of steps after which the loss on the same batch rose by more than "
    "LOSS_RISE; small enough gradient steps never raise a smooth loss (the descent lemma), so "
    "regular rises are steps that overshoot")
LOSS_TREND_SIGNIFICANCE = Threshold(
    0.05, "the conventional 5% level of Kendall's rank test for a trend (Mann 1945, Kendall 1938; "
    "exact null distribution: every order of the values equally likely): a loss whose last half "
    "falls more often than noise would at this level is still falling, however slowly")
LOSS_AT_CHANCE = Threshold(
    0.05, "LOSS_MIN_DECREASE's 5% measured from chance instead of from the first steps: a loss "
    "within 5% of what predictions with no pattern score (ln C for a classifier, the targets' "
    "variance for mean squared error) has learned no more than the 'not decreasing' bound allows")

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
    "1e-3 is a whole healthy update (the ~1e-3 update/weight rule of thumb)")
PENALTY_SHARE = Threshold(
    0.5, "share of the loss that a penalty added to it makes up at the first step: at 0.5 the "
    "penalty is as large as the loss on the data, the balance point of DECAY_DOMINANCE, so the "
    "steps serve the penalty at least as much as the data")
SCALER_STUCK_SCALE = Threshold(
    1.0, "a GradScaler that still finds inf/NaN gradients at a scale below 1 is not overflowing "
    "because of its scale: the unscaled gradients themselves are not finite")


# == what the forward pass shows: rules/depth.py, nonfinite.py, activations.py, loss_direction.py,
# == loss_misuse.py, train_mode.py, symmetry.py, data_scale.py ======================================

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

FIRST_LOSS_OVER_CHANCE = Threshold(
    2, "first cross-entropy / ln(classes): ln(C) is the loss of evenly spread predictions "
    "(Karpathy, 'A Recipe for Training Neural Networks': verify loss @ init); at twice it the "
    "labelled class gets on average probability 1/C^2, as far below chance as chance is below "
    "certainty, which only large logits pointing at wrong classes give")

LOGIT_STD_HIGH = Threshold(
    10, "std of the logits a classification loss receives at the first step: default-initialised "
    "networks give about 0.1 to 1 (measured on the corpus's correct loops: at most 0.8); at 10 "
    "softmax is all but certain of one class (two logits 20 apart: p = 2e-9)")

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

# -- what the loss counts, how batches are formed, sequence layout (rules/loss_axes.py, batches.py,
# -- sequences.py) -----------------------------------------------------------------------------------
PAD_SHARE_MIN = Threshold(
    0.2, "share of (N, T) class targets held by one label: in natural text the most frequent "
    "token is ~5-7% of tokens (Zipf; 'the' in English ~6%), so a label four times as common that "
    "also fills the ends of the rows is padding, and a fifth of the loss is spent predicting it")
PAD_SUFFIX_ROWS_MIN = Threshold(
    0.5, "share of rows in which that label fills the end after some other label: padding does "
    "so in every row shorter than the longest; a frequent label inside the text (NER's 'O', a "
    "background class) breaks off and starts again, so it is never a suffix in most rows")
LABEL_LINK_GAP = Threshold(
    0.02, "relative change of a class loss when each label is moved to the next sample: a model "
    "whose output does not depend on its input scores exactly the same (the same labels meet the "
    "same predictions), so under 2% the model links less than 2% of its loss to the inputs")
CHANCE_LOSS_SHARE = Threshold(
    0.9, "class loss / entropy of the batch's label frequencies: a model that learnt only how often "
    "each label occurs reaches the entropy and no lower; within 10% of it nothing else was learnt")
SINGLE_CLASS_MIN_BATCH = Threshold(
    8, "a batch of n samples drawn from C >= 2 equally frequent classes holds one class with "
    "probability C**(1 - n): 1/128 at n = 8, C = 2; in both watched iterations, each a different "
    "class, 1/16384; below 8 samples that happens by chance too often")
CLASS_LEVELS_MIN = Threshold(
    3, "regression targets that are the integers 0..K-1 count as class labels from K = 3: two "
    "levels {0, 1} are a binary target, which MSE on a sigmoid output fits as a probability "
    "(the Brier score, a proper scoring rule), a legitimate choice")
SAME_BATCH_MIN_STEPS = Threshold(
    3, "nbgrad: two equal batches in a row can be a loop that repeats on purpose; three and more, "
    "at every step, are the loop's way of fetching data")
# -- across the ranks of a torchrun job (rules/ranks.py) --------------------------------------------
RANK_CHECKSUM_TOLERANCE = Threshold(
    1e-6, "relative difference of two ranks' parameter or gradient checksums (sum, sum of squares) "
    "above which they differ: DDP's all-reduce hands every rank the same bytes, so wrapped models "
    "agree exactly; float32 sums of equal tensors agree to their rounding (~1e-7), while one SGD "
    "step on other data moves them by orders of magnitude more")
BATCHNORM_RANK_BATCH = Threshold(
    16, "examples per rank below which BatchNorm's per-rank statistics are noisy: Wu & He, Group "
    "Normalization (2018), fig. 1: ImageNet error grows as the batch per GPU falls below 16 and "
    "sharply at 8 and below; SyncBatchNorm computes them over every rank's batch")
