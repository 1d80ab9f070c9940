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
        if act.kind in kind:
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


def saturated_activations(run: Run) -> list[Diagnosis]:
    output_ok = any(c.function == "binary_cross_entropy" for c in run.forward.losses)
    found = []
    for (_, after, kind, _), acts in _groups(run, ("sigmoid", "tanh")).items():
        if output_ok and any(a.feeds_loss for a in acts):
            continue  # sigmoid -> BCELoss: the log in the loss undoes the flat slope
        bad = [a for a in acts if a.saturated_fraction is not None
               and a.saturated_fraction >= SATURATED_SHARE]
        if not bad:
            continue
        act = bad[0]
        evidence = [Evidence(
            f"{describe(a)} at step {a.step}: {percent(a.saturated_fraction)} of its "  # type: ignore[arg-type]
            f"{a.numel} values are saturated (slope under 2.7% of its largest), mean slope "
            f"{a.mean_slope:.3g}", a.saturated_fraction, a.layer, a.step) for a in bad]
        evidence += _causes(run, act)
        line = module_line(run, act)
        where = f"'{after}'" if after else f"'{act.layer}'"
        found.append(Diagnosis(
            code="NBG601", slug="saturated-activations", severity="warning",
            title=f"The {kind} after {where} is saturated: "
                  f"{percent(act.saturated_fraction)} of its outputs sit on its flat ends",  # type: ignore[arg-type]
            evidence=evidence,
            why=f"A saturated {kind} has almost no slope, so almost no gradient passes back through "
                "it: the layers before it stop learning.",
            fix="Keep its inputs near 0: normalise the data, initialise with PyTorch's default or "
                "nn.init.xavier_uniform_, add nn.LayerNorm / nn.BatchNorm1d before it; or use ReLU "
                "in hidden layers.",
            line=line, confidence=0.9, layers=[x for x in (after, act.layer) if x]))
    return found


def dead_relus(run: Run) -> list[Diagnosis]:
    found = []
    for (_, after, _, _), acts in _groups(run, ("relu",)).items():
        judged = [a for a in acts if a.dead_units is not None and a.units
                  and a.samples_per_unit >= DEAD_MIN_SAMPLES]
        bad = [a for a in judged if a.dead_units / a.units >= DEAD_SHARE]  # type: ignore[operator]
        if not bad:
            continue
        act = max(bad, key=lambda a: a.dead_units / a.units)  # type: ignore[operator]
        evidence = [Evidence(
            f"{describe(a)} at step {a.step}: {a.dead_units} of {a.units} units are 0 for all "
            f"{a.samples_per_unit} samples", a.dead_units / a.units, a.layer, a.step)  # type: ignore[operator]
            for a in judged]
        evidence += _causes(run, act)
        died_late = all(a.dead_units / a.units < DEAD_SHARE for a in judged if a.step == min(  # type: ignore[operator]
            x.step for x in judged)) and len({a.step for a in judged}) > 1
        every = act.dead_units == act.units
        where = f"'{after}'" if after else f"'{act.layer}'"
        why = ("A ReLU unit that is 0 for every input has slope 0 everywhere: it passes no "
               "gradient back and can never come alive again.")
        if every:
            why += " Here every unit of the layer is dead, so nothing before it gets any gradient."
        if died_late:
            why += (" They were alive at the first step and died during training: a typical sign "
                    "of a learning rate that is too large.")
        found.append(Diagnosis(
            code="NBG602", slug="dead-relu", severity="error" if every else "warning",
            title=f"{act.dead_units} of {act.units} ReLU units after {where} are dead (always 0)",
            evidence=evidence, why=why,
            fix="Lower the learning rate, normalise the inputs, use nn.LeakyReLU(0.01) or GELU, "
                "or initialise with nn.init.kaiming_normal_(w, nonlinearity='relu').",
            line=module_line(run, act), confidence=0.9, layers=[x for x in (after, act.layer) if x]))
    return found
