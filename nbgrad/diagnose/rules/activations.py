"""Activations that block the gradient: saturated sigmoid/tanh units, dead ReLU units."""

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

# lines that set weights by hand: where a too-large initialisation is fixed
INIT_CALLS = r"nn\.init\.\w+\(|\.(normal_|uniform_|fill_|constant_|copy_)\(|\.data\s*[*+-]?="

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
        found.init_line = facts.only_line_matching(run, INIT_CALLS)
    if bias_rms is not None and bias_rms * math.sqrt(3 * fan_in) > BIAS_SCALE_HIGH:
        found.reasons.append(f"the bias of '{feeding.layer}' is {bias_rms * math.sqrt(3 * fan_in):.0f}x "
                             "larger than PyTorch's default initialisation")
        found.init_line = facts.only_line_matching(run, INIT_CALLS)
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
    if not bad:
        return []
    act, share = bad[0]
    causes = _causes(run, act)
    evidence += causes.evidence
    where = f"'{act.after or act.layer}'"
    return [make(
        "NBG601", severity="warning",
        title=f"The {act.kind} after {where} is saturated: {percent(share)} of its "
              f"outputs sit on its flat ends{_more(len(bad) - 1)}",
        evidence=evidence,
        why=f"A saturated {act.kind} has almost no slope, so almost no gradient passes back through "
            f"it: the layers before it stop learning.{_because(causes)}",
        fix=facts.capital(_init_fix(causes) + "keep its inputs near 0: normalise the data, initialise with "
            "PyTorch's default or nn.init.xavier_uniform_, add nn.LayerNorm / nn.BatchNorm1d "
            "before it; or use ReLU in hidden layers."),
        line=causes.init_line or facts.module_line(run, act), confidence=0.9,
        layers=list(dict.fromkeys(a.after or a.layer for a, _ in bad)),
        consequence_of=["NBG851"] if causes.inputs else [])]  # raw inputs saturate it


def dead_relus(run: Run) -> list[Diagnosis]:
    bad: list[tuple[ActivationRecord, float]] = []
    evidence: list[Evidence] = []
    died_late = False
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
        died_late = died_late or judged[0] not in hit
    if not bad:
        return []
    act, _ = max(bad, key=lambda pair: pair[1])
    causes = _causes(run, act)
    evidence += causes.evidence
    every = act.dead_units == act.units
    why = ("A ReLU unit that is 0 for every input has slope 0 everywhere: it passes no gradient "
           "back and can never come alive again.")
    if every:
        why += " Here every unit of the layer is dead, so nothing before it gets any gradient."
    if died_late:
        why += (" Some were alive at the first step and died during training: a typical sign of "
                "a learning rate that is too large.")
    why += _because(causes)
    where = f"'{act.after or act.layer}'"
    return [make(
        "NBG602", severity="error" if every else "warning",
        title=f"{act.dead_units} of {act.units} ReLU units after {where} are dead (always 0)"
              f"{_more(len(bad) - 1)}",
        evidence=evidence, why=why,
        fix=facts.capital(_init_fix(causes) + "lower the learning rate, normalise the inputs, use "
            "nn.LeakyReLU(0.01) or GELU, or initialise with nn.init.kaiming_normal_(w, "
            "nonlinearity='relu')."),
        line=causes.init_line or facts.module_line(run, act), confidence=0.9,
        layers=list(dict.fromkeys(a.after or a.layer for a, _ in bad)),
        consequence_of=["NBG851"] if causes.inputs else [])]  # raw inputs kill the units
