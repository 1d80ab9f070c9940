"""The first loss of a classifier against chance: ln(C).

A classifier that has learned nothing yet should spread its probability over the C classes about
evenly, and cross-entropy then scores ln(C), whatever the labels. That is the first check of
Karpathy's "A Recipe for Training Neural Networks" ("verify loss @ init"). A first loss far above
it means the untrained model is already confidently wrong: its logits are large before any step.
The usual cause is an output layer (or the layers before it) initialised far too large; the first
steps are then spent shrinking the logits instead of learning (the "hockey stick" loss curve), and
the large gradients can kill ReLU units or overshoot.

The rule judges the value the loss function returned in the first detail window, at the first step
the check saw, with the mean reduction (a sum scales with the batch). The measured cause (weights
far larger than a variance-preserving initialisation) decides the line; without one the finding is
a note, since a model trained before this cell can start confidently wrong on purpose.
"""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, Severity
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run
from nbgrad.thresholds import FIRST_LOSS_OVER_CHANCE, INIT_GAIN_HIGH


def _weight_line(run: Run, name: str) -> int | None:
    """Where a weight found too large is set: the first assignment of a tensor made by hand (`W2 =
    torch.randn(...)`), else the one line that initialises weights by hand."""
    info = run.params.get(name)
    layer = run.layers.get(info.layer) if info is not None else None
    if layer is not None and layer.type == "Tensor":
        made = facts.assignments(run, name.rsplit(".", 1)[-1])
        if made:
            return made[0]
    return facts.init_line(run)


def first_loss_far_from_chance(run: Run) -> list[Diagnosis]:
    """NBG704: the first cross-entropy is at least FIRST_LOSS_OVER_CHANCE x ln(classes)."""
    steps = run.steps or run.manual_steps
    if not steps or not run.forward.windows or run.forward.windows[0] != steps[0].index:
        return []
    first = run.forward.windows[0]
    call = next((c for c in run.forward.losses if c.step == first and facts.scores_ln_classes(c)
                 and c.value is not None and math.isfinite(c.value)), None)
    if call is None or call.value is None or call.classes is None:
        return []
    chance = math.log(call.classes)
    if call.value < FIRST_LOSS_OVER_CHANCE * chance:
        return []
    evidence = [
        Evidence(f"{call.function} (line {call.line}) returned {fmt(call.value)} at step {first}, "
                 f"before any update; a classifier that has learned nothing yet spreads its "
                 f"probability over the {call.classes} classes and scores ln({call.classes}) = "
                 f"{fmt(chance)}", value=call.value, step=first),
        Evidence(f"so the labelled class got on average probability {fmt(math.exp(-call.value))}, "
                 f"where guessing gives 1/{call.classes} = {fmt(1 / call.classes)}",
                 value=math.exp(-call.value), step=first),
    ]
    spread = call.prediction.std if call.prediction is not None else None
    if spread is not None:
        evidence.append(Evidence(f"the logits it received have std {fmt(spread)}, from "
                                 f"{fmt(call.input_min)} to {fmt(call.input_max)} (a freshly "
                                 "initialised PyTorch classifier gives about 0.1 to 1)",
                                 value=spread, step=first))
    order = {w.param: i for i, w in enumerate(facts.weight_layers(run))}
    large = sorted(((g, name) for name, g in facts.init_gains(run).items() if g > INIT_GAIN_HIGH),
                   key=lambda pair: (-order.get(pair[1], len(order)), -pair[0]))
    evidence += [Evidence(f"{name}: weight std x sqrt(fan_in) = {fmt(g)} at the first step "
                          "(LeCun's initialisation: 1, He's: 1.41, PyTorch's default: 0.58)",
                          value=g) for g, name in large[:3]]
    line = _weight_line(run, large[0][1]) if large else None
    severity: Severity = "warning" if large else "info"
    if large:
        why_cause = ("Here the weights start far larger than a variance-preserving "
                     "initialisation, so every layer multiplies the size of its input and the "
                     "logits come out large.")
        fix = ("Initialise the output layer small (scale its weights by 0.01, or nn.init.zeros_ on "
               "its bias and PyTorch's default on its weight), and the other layers with "
               "nn.init.kaiming_normal_(w, nonlinearity='relu') or PyTorch's default"
               + (f": the weights are set on line {line}." if line else "."))
    else:
        why_cause = ("No weight was measured far above a variance-preserving initialisation, so "
                     "the cause is not singled out: check that the model was not trained before "
                     "on labels in another order, and what makes the logits large.")
        fix = ("Find what makes the first logits large: print model(x).std() before training; "
               "initialise the output layer small (scale its weights by 0.01). The line is not "
               "known: no weight was initialised measurably too large.")
    return [make(
        "NBG704", severity=severity,
        title=f"The first loss is {fmt(call.value)}, far above ln({call.classes}) = {fmt(chance)} "
              "of an untrained classifier: the model starts confidently wrong",
        evidence=evidence,
        why=("Cross-entropy of evenly spread predictions is ln(classes), whatever the labels. A "
             "first loss far above it means the logits are already large and point at wrong "
             "classes: the first steps are spent shrinking them instead of learning, and their "
             f"large gradients can overshoot or kill ReLU units. {why_cause}"),
        fix=fix, line=line, confidence=0.8 if large else 0.4,
        layers=sorted({run.params[n].layer for _, n in large if n in run.params}),
        # weights far too large with huge logits, or raw inputs: each explains the large logits
        consequence_of=["NBG552", "NBG851"])]


RULES = [first_loss_far_from_chance]
