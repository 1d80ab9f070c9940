"""Weights initialised far larger than a variance-preserving initialisation.

A layer whose weights have std * sqrt(fan_in) far above 1 multiplies the size of its input; a few
such layers make the outputs huge before the first step. For a classifier that shows at once: the
logits have a spread of tens or hundreds, softmax puts all the probability on one class, and the
first loss is far above that of an untrained guess. The first steps then overshoot (their size
follows the huge gradients), and ReLU units die; those findings fold into this one.
"""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run
from nbgrad.thresholds import INIT_GAIN_HIGH, LOGIT_STD_HIGH

CLASS_LOSSES = {"cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"}


def init_too_large(run: Run) -> list[Diagnosis]:
    """NBG552: weights far above a variance-preserving scale, and the logits at the first step huge."""
    if not run.steps or not run.forward.windows:
        return []
    large = {name: g for name, g in facts.init_gains(run).items() if g > INIT_GAIN_HIGH}
    first = run.forward.windows[0]
    calls = [c for c in run.forward.losses if c.step == first and c.function in CLASS_LOSSES
             and c.prediction is not None and c.prediction.std is not None]
    huge = [c for c in calls if c.prediction and (c.prediction.std or 0) >= LOGIT_STD_HIGH]
    if not large or not huge:
        return []
    call = huge[0]
    spread = call.prediction.std if call.prediction else None
    evidence = [Evidence(f"{name}: weight std x sqrt(fan_in) = {fmt(g)} at step "
                         f"{run.steps[0].index} (LeCun's init: 1, He's: 1.41, PyTorch's default: "
                         "0.58)", value=g) for name, g in sorted(large.items(), key=lambda kv: -kv[1])][:4]
    evidence.append(Evidence(f"the logits {call.function} received at step {call.step} (line "
                             f"{call.line}) have std {fmt(spread)}, from {fmt(call.input_min)} to "
                             f"{fmt(call.input_max)}", value=spread, step=call.step))
    losses = facts.finite(run.steps[0].losses)
    if call.classes and call.classes > 1 and losses:
        evidence.append(Evidence(f"the first loss is {fmt(losses[0])}; predicting every class "
                                 f"equally likely gives ln({call.classes}) = "
                                 f"{fmt(math.log(call.classes))}", value=losses[0]))
    line = facts.init_line(run)
    return [make(
        "NBG552", severity="warning",
        title=f"The weights start {fmt(max(large.values()))}x larger than a variance-preserving "
              "initialisation: the outputs are huge before the first step",
        evidence=evidence,
        why=("Each layer multiplies the size of its input by about its weights' std x "
             "sqrt(fan_in). Far above 1, the activations grow layer after layer: the logits come "
             "out in the tens or hundreds, softmax is certain of one class, and the gradients are "
             "so large that the first steps overshoot and ReLU units die."),
        fix=("Initialise with a scale that keeps activations near 1: nn.init.kaiming_normal_(w, "
             "nonlinearity='relu') for ReLU layers, or torch.randn(fan_in, fan_out) * (2 / "
             "fan_in) ** 0.5 for tensors made by hand, and biases at 0 (or PyTorch's default "
             "layers)." + (f" The weights are made on line {line}." if line else "")),
        line=line, confidence=0.85,
        layers=sorted({run.params[n].layer for n in large if n in run.params}))]
