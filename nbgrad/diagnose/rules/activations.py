"""Activations that block the gradient: saturated sigmoid/tanh units, dead ReLU units; and a bounded
activation on the output that cannot reach the targets.

Units that are saturated or dead when training starts are a cause (the initialisation, the
inputs, an activation on the output); units that die during training are a consequence of large
steps, and fold into the finding that explains them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import describe, percent
from nbgrad.records import ActivationRecord, Run
from nbgrad.thresholds import (
    BIAS_SCALE_HIGH,
    DEAD_MIN_SAMPLES,
    DEAD_SHARE,
    INIT_GAIN_HIGH,
    INPUT_SCALE_MAX,
    SATURATED_SHARE,
)

# the output range of a bounded activation, and the losses that compare outputs with targets
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
REGRESSION_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "subtraction"}
# what makes units die during training (their finding then carries this one)
LATE_CAUSES = ["NBG403", "NBG702", "NBG703", "NBG651", "NBG552", "NBG851", "NBG407"]

Key = tuple[str, str, str, int | None]


def _groups(run: Run, kind: tuple[str, ...]) -> dict[Key, list[ActivationRecord]]:
    """Records of the same activation (same layer, input, call line) across windows."""
    groups: dict[Key, list[ActivationRecord]] = {}
    for act in run.forward.activations:
        if act.kind in kind and not act.nonfinite:  # NaN says nothing about slopes
            groups.setdefault((act.layer, act.after, act.kind, act.line), []).append(act)
    return groups


@dataclass
class Causes:
    """What pushes an activation's inputs far from 0, as evidence and as reasons in words."""

    evidence: list[Evidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    init_line: int | None = None  # the line that initialised the feeding layer, when it is a cause
    inputs: bool = False  # the model's inputs are far from unit scale (the input-scale finding)


def _causes(run: Run, act: ActivationRecord) -> Causes:
    found = Causes()
    layers = facts.weight_layers(run)
    feeding = next((w for w in layers if w.layer == act.after), None)
    if feeding is None:
        return found
    gain = facts.init_gain(run, feeding)
    bias = run.params.get(f"{feeding.layer}.bias")
    fan_in = run.params[feeding.param].numel // max(feeding.rows, 1)
    stats = next((s.params[bias.name] for s in run.steps if bias and bias.name in s.params), None)
    bias_rms = stats.param_norm / math.sqrt(max(bias.numel, 1)) if stats and bias else None
    parts = [f"weight std x sqrt(fan_in) = {gain:.3g} (LeCun: 1)"] if gain is not None else []
    if bias_rms is not None:
        parts.append(f"bias RMS {bias_rms:.3g} (PyTorch's default: {1 / math.sqrt(3 * fan_in):.2g})")
    if parts:
        found.evidence.append(Evidence(f"'{feeding.layer}' at step 0: {', '.join(parts)}", gain,
                                       feeding.layer, 0))
    if gain is not None and gain > INIT_GAIN_HIGH:
        found.reasons.append(f"the weights of '{feeding.layer}' are {gain:.1f}x larger than "
                             "LeCun's initialisation")
        found.init_line = facts.init_line(run)
    if bias_rms is not None and bias_rms * math.sqrt(3 * fan_in) > BIAS_SCALE_HIGH:
        found.reasons.append(f"the bias of '{feeding.layer}' is {bias_rms * math.sqrt(3 * fan_in):.0f}x "
                             "larger than PyTorch's default initialisation")
        found.init_line = facts.init_line(run)
    if layers and feeding is layers[0]:
        for inp in run.forward.inputs[:1]:
            s = inp.summary
            scale = max(abs(s.mean or 0.0), s.std or 0.0)
            if scale > INPUT_SCALE_MAX:
                found.evidence.append(Evidence(f"the model's input has mean {s.mean:.3g} and std "
                                               f"{s.std:.3g} (not normalised)", scale, inp.layer))
                found.reasons.append("the model's inputs are not normalised")
                found.inputs = True
    return found


def _because(causes: Causes) -> str:
    return f" The cause here: {' and '.join(causes.reasons)}." if causes.reasons else ""


def _init_fix(causes: Causes) -> str:
    if causes.init_line is None:
        return ""
    return (f"Remove the hand-made initialisation on line {causes.init_line}: PyTorch's default "
            "initialisation keeps pre-activations near 0. Otherwise: ")


def _more(count: int) -> str:
    return f" (and {count} more)" if count else ""


def saturated_activations(run: Run) -> list[Diagnosis]:
    output_ok = any(c.function == "binary_cross_entropy" for c in run.forward.losses)
    first_window = run.forward.windows[0] if run.forward.windows else 0
    bad: list[tuple[ActivationRecord, float]] = []
    evidence: list[Evidence] = []
    for acts in _groups(run, ("sigmoid", "tanh")).values():
        if output_ok and any(a.feeds_loss for a in acts):
            continue  # sigmoid -> BCELoss: the log in the loss undoes the flat slope
        hit = [(a, share) for a in acts
               if (share := a.saturated_fraction) is not None and share >= SATURATED_SHARE]
        if not hit:
            continue
        bad.append(hit[0])
        evidence += [Evidence(
            f"{describe(a)} at step {a.step}: {percent(share)} of its {a.numel} values are "
            f"saturated (slope under 2.7% of its largest), mean slope {facts.fmt(a.mean_slope)}",
            share, a.after or a.layer, a.step) for a, share in hit]
    found = _output_out_of_range(run)
    if not bad:
        return found
    act, share = bad[0]
    if found and act.feeds_loss:
        return found  # the output sigmoid saturates because the targets are out of its reach
    causes = _causes(run, act)
    evidence += causes.evidence
    # saturation that appears only during training while the loss falls is the model fitting
    # the data (large pre-activations), not a unit that blocks learning from the start
    late = all(a.step != first_window for a, _ in bad)
    trends = facts.loss_trends(run)
    falling = bool(trends) and all(t.falling for t in trends)
    if late and falling:
        evidence += [Evidence(t.text(), t.last) for t in trends]
    where = f"'{act.after or act.layer}'"
    return [*found, make(
        "NBG601", severity="info" if late and falling else "warning",
        title=f"The {act.kind} after {where} is saturated: {percent(share)} of its "
              f"outputs sit on its flat ends{_more(len(bad) - 1)}"
              + (", but the loss still falls" if late and falling else ""),
        evidence=evidence,
        why=f"A saturated {act.kind} has almost no slope, so almost no gradient passes back through "
            f"it: the layers before it stop learning.{_because(causes)}"
            + (" It saturated during training, not at the start, and the loss kept falling."
               if late and falling else ""),
        fix=facts.capital(_init_fix(causes) + "keep its inputs near 0: normalise the data, initialise with "
            "PyTorch's default or nn.init.xavier_uniform_, add nn.LayerNorm / nn.BatchNorm1d "
            "before it; or use ReLU in hidden layers."),
        line=causes.init_line or facts.module_line(run, act), confidence=0.9,
        layers=list(dict.fromkeys(a.after or a.layer for a, _ in bad)),
        consequence_of=["NBG851"] if causes.inputs else [])]  # raw inputs saturate it


def _output_out_of_range(run: Run) -> list[Diagnosis]:
    """NBG601: a sigmoid or tanh on the output of a regression whose targets mostly lie outside
    what it can produce: the loss can never reach them, and the output saturates trying."""
    for call in run.forward.losses:
        kind = {"sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh", "tanh_": "tanh"}.get(
            call.input_from)
        target = call.target
        if kind is None or call.function not in REGRESSION_LOSSES or target is None \
                or target.mean is None or target.min is None or target.max is None:
            continue
        low, high = RANGES[kind]
        if low <= target.mean <= high:
            continue
        made = call.input_from_line
        return [make(
            "NBG601", severity="warning",
            title=f"The {kind} on the output can only produce values in ({low:g}, {high:g}), but "
                  f"the targets lie between {target.min:.3g} and {target.max:.3g}",
            evidence=[
                Evidence(f"{call.function} (line {call.line}) compares the output of {kind}()"
                         + (f" (line {made})" if made else "") + f" with targets of mean "
                         f"{target.mean:.3g}, range {target.min:.3g} to {target.max:.3g}, at step "
                         f"{call.step}", value=target.mean, step=call.step),
                Evidence(f"the predictions ranged from {facts.fmt(call.input_min)} to "
                         f"{facts.fmt(call.input_max)}", value=call.input_max),
            ],
            why=f"A {kind} squeezes any input into ({low:g}, {high:g}). Targets outside that range "
                "cannot be reached: the loss stays large, and the output is pushed against its "
                f"bound, where the {kind} saturates and passes no gradient back.",
            fix=f"Scale the targets into ({low:g}, {high:g}) where the loss receives them (and "
                f"scale predictions back), or remove the {kind} from the output of a regression.",
            line=call.line, confidence=0.9)]
    return []


def dead_relus(run: Run) -> list[Diagnosis]:
    bad: list[tuple[ActivationRecord, float]] = []
    evidence: list[Evidence] = []
    died_late = False
    first_window = run.forward.windows[0] if run.forward.windows else 0
    zeroed = {s.layer for s in run.forward.symmetry if s.weight_scale == 0}  # identical-units' case
    for acts in _groups(run, ("relu",)).values():
        if acts[0].after in zeroed:
            continue
        judged = [(a, dead) for a in acts if (dead := a.dead_fraction) is not None
                  and a.samples_per_unit >= DEAD_MIN_SAMPLES]
        hit = [(a, dead) for a, dead in judged if dead >= DEAD_SHARE]
        if not hit:
            continue
        bad.append(max(hit, key=lambda pair: pair[1]))
        evidence += [Evidence(
            f"{describe(a)} at step {a.step}: {a.dead_units} of {a.units} units are 0 for all "
            f"{a.samples_per_unit} samples", dead, a.after or a.layer, a.step) for a, dead in judged]
        died_late = died_late or all(a.step != first_window for a, _ in hit)
    if not bad:
        return []
    act, _ = max(bad, key=lambda pair: pair[1])
    at_start = [(a, d) for a, d in bad if a.step == first_window]
    if at_start:  # dead from the first step on: judge those, the cause is in the set-up
        act, _ = max(at_start, key=lambda pair: pair[1])
        died_late = False
    causes = _causes(run, act)
    evidence += causes.evidence
    every = act.dead_units == act.units
    output = act.feeds_loss and any(c.function in REGRESSION_LOSSES for c in run.forward.losses)
    why = ("A ReLU unit that is 0 for every input has slope 0 everywhere: it passes no gradient "
           "back and can never come alive again.")
    if output:
        why += (" This ReLU is applied to the model's output: every prediction below 0 is clipped "
                "to 0, and where all are, no gradient reaches any layer.")
    elif every:
        why += " Here every unit of the layer is dead, so nothing before it gets any gradient."
    if died_late:
        why += (" They were alive at the first step and died during training: the steps pushed "
                "their inputs below 0 for every sample, which a learning rate that is too large "
                "usually does.")
    why += _because(causes)
    where = f"'{act.after or act.layer}'"
    if output:
        title = (f"A ReLU on the output after {where} clips the predictions at 0: "
                 f"{act.dead_units} of {act.units} outputs are always 0")
        fix = ("Remove the ReLU from the output of a regression (return the last layer's output); "
               "if the target must be positive, use nn.Softplus() or predict its log."
               + (f" The hand-made initialisation on line {causes.init_line} pushes it below 0 "
                  "too." if causes.init_line else ""))
    elif died_late:
        title = (f"{act.dead_units} of {act.units} ReLU units after {where} died during training "
                 f"(always 0){_more(len(bad) - 1)}")
        fix = ("Lower the learning rate (or clip gradients) so that no step pushes a unit's inputs "
               "below 0 for every sample; nn.LeakyReLU(0.01) keeps a small slope where ReLU has "
               "none.")
    else:
        title = (f"{act.dead_units} of {act.units} ReLU units after {where} are dead (always 0)"
                 f"{_more(len(bad) - 1)}")
        fix = facts.capital(_init_fix(causes) + "normalise the inputs, initialise with "
                            "nn.init.kaiming_normal_(w, nonlinearity='relu') and biases at 0, or "
                            "use nn.LeakyReLU(0.01) or GELU.")
    # an error only when nothing can flow back from the first step on, with the cause measured;
    # some units dead at the start with no cause measured is a note: the others still learn
    certain = every and not died_late and (output or bool(causes.reasons))
    unexplained = not died_late and not every and not output and not causes.reasons
    return [make(
        "NBG602", severity="error" if certain else "info" if unexplained else "warning",
        title=title, evidence=evidence, why=why, fix=fix,
        line=facts.module_line(run, act) if output else causes.init_line or facts.module_line(run, act),
        confidence=0.9 if certain else 0.7,
        layers=list(dict.fromkeys(a.after or a.layer for a, _ in bad)),
        consequence_of=LATE_CAUSES if died_late else ["NBG851", "NBG552"] if causes.inputs
        else ["NBG552"])]
