"""Activations that block the gradient: saturated sigmoid/tanh units, dead ReLU units."""

from __future__ import annotations

from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules.forward_facts import (
    describe,
    init_gain,
    module_line,
    percent,
    weight_layers,
)
from nbgrad.diagnose.thresholds_forward import (
    DEAD_MIN_SAMPLES,
    DEAD_SHARE,
    INIT_GAIN_HIGH,
    INPUT_SCALE_MAX,
    SATURATED_SHARE,
)
from nbgrad.records import ActivationRecord, Run

Key = tuple[str, str, str, int | None]


def _groups(run: Run, kind: tuple[str, ...]) -> dict[Key, list[ActivationRecord]]:
    """Records of the same activation (same layer, input, call line) across windows."""
    groups: dict[Key, list[ActivationRecord]] = {}
    for act in run.forward.activations:
        if act.kind in kind and not act.nonfinite:  # NaN says nothing about slopes
            groups.setdefault((act.layer, act.after, act.kind, act.line), []).append(act)
    return groups


def _causes(run: Run, act: ActivationRecord) -> list[Evidence]:
    """What pushes the pre-activations far from 0: huge weights or unscaled inputs before it."""
    found = []
    layers = weight_layers(run)
    feeding = next((w for w in layers if w.layer == act.after), None)
    if feeding is not None:
        gain = init_gain(run, feeding)
        if gain is not None and gain > INIT_GAIN_HIGH:
            found.append(Evidence(f"{feeding.layer}'s weights: std x sqrt(fan_in) = {gain:.3g}, "
                                  f"{gain:.0f}x LeCun's init", gain, feeding.layer))
        if layers and feeding is layers[0]:
            for inp in run.forward.inputs[:1]:
                s = inp.summary
                scale = max(abs(s.mean or 0.0), s.std or 0.0)
                if scale > INPUT_SCALE_MAX:
                    found.append(Evidence(f"the model's input has mean {s.mean:.3g} and std "
                                          f"{s.std:.3g} (not normalised)", scale, inp.layer))
    return found


def _more(count: int) -> str:
    return f" (and {count} more)" if count else ""


def saturated_activations(run: Run) -> list[Diagnosis]:
    output_ok = any(c.function == "binary_cross_entropy" for c in run.forward.losses)
    bad: list[ActivationRecord] = []
    evidence: list[Evidence] = []
    for acts in _groups(run, ("sigmoid", "tanh")).values():
        if output_ok and any(a.feeds_loss for a in acts):
            continue  # sigmoid -> BCELoss: the log in the loss undoes the flat slope
        hit = [a for a in acts if a.saturated_fraction is not None
               and a.saturated_fraction >= SATURATED_SHARE]
        if not hit:
            continue
        bad.append(hit[0])
        evidence += [Evidence(
            f"{describe(a)} at step {a.step}: {percent(a.saturated_fraction)} of its "  # type: ignore[arg-type]
            f"{a.numel} values are saturated (slope under 2.7% of its largest), mean slope "
            f"{a.mean_slope:.3g}", a.saturated_fraction, a.after or a.layer, a.step) for a in hit]
    if not bad:
        return []
    act = bad[0]
    evidence += _causes(run, act)
    where = f"'{act.after or act.layer}'"
    return [Diagnosis(
        code="NBG601", slug="saturated-activations", severity="warning",
        title=f"The {act.kind} after {where} is saturated: {percent(act.saturated_fraction)} of its "  # type: ignore[arg-type]
              f"outputs sit on its flat ends{_more(len(bad) - 1)}",
        evidence=evidence,
        why=f"A saturated {act.kind} has almost no slope, so almost no gradient passes back through "
            "it: the layers before it stop learning.",
        fix="Keep its inputs near 0: normalise the data, initialise with PyTorch's default or "
            "nn.init.xavier_uniform_, add nn.LayerNorm / nn.BatchNorm1d before it; or use ReLU "
            "in hidden layers.",
        line=module_line(run, act), confidence=0.9,
        layers=list(dict.fromkeys(a.after or a.layer for a in bad)))]


def dead_relus(run: Run) -> list[Diagnosis]:
    bad: list[ActivationRecord] = []
    evidence: list[Evidence] = []
    died_late = False
    zeroed = {s.layer for s in run.forward.symmetry if s.weight_scale == 0}  # identical-units' case
    for acts in _groups(run, ("relu",)).values():
        if acts[0].after in zeroed:
            continue
        judged = [a for a in acts if a.dead_units is not None and a.units
                  and a.samples_per_unit >= DEAD_MIN_SAMPLES]
        hit = [a for a in judged if a.dead_units / a.units >= DEAD_SHARE]  # type: ignore[operator]
        if not hit:
            continue
        bad.append(max(hit, key=lambda a: a.dead_units / a.units))  # type: ignore[operator]
        evidence += [Evidence(
            f"{describe(a)} at step {a.step}: {a.dead_units} of {a.units} units are 0 for all "
            f"{a.samples_per_unit} samples", a.dead_units / a.units, a.after or a.layer, a.step)  # type: ignore[operator]
            for a in judged]
        died_late = died_late or judged[0] not in hit
    if not bad:
        return []
    act = max(bad, key=lambda a: a.dead_units / a.units)  # type: ignore[operator]
    evidence += _causes(run, act)
    every = act.dead_units == act.units
    why = ("A ReLU unit that is 0 for every input has slope 0 everywhere: it passes no gradient "
           "back and can never come alive again.")
    if every:
        why += " Here every unit of the layer is dead, so nothing before it gets any gradient."
    if died_late:
        why += (" Some were alive at the first step and died during training: a typical sign of "
                "a learning rate that is too large.")
    where = f"'{act.after or act.layer}'"
    return [Diagnosis(
        code="NBG602", slug="dead-relu", severity="error" if every else "warning",
        title=f"{act.dead_units} of {act.units} ReLU units after {where} are dead (always 0)"
              f"{_more(len(bad) - 1)}",
        evidence=evidence, why=why,
        fix="Lower the learning rate, normalise the inputs, use nn.LeakyReLU(0.01) or GELU, or "
            "initialise with nn.init.kaiming_normal_(w, nonlinearity='relu').",
        line=module_line(run, act), confidence=0.9,
        layers=list(dict.fromkeys(a.after or a.layer for a in bad)))]
