"""Inputs or targets on a scale far from what a freshly initialised model works with, when the
training shows that this is what holds it back."""

from __future__ import annotations

import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import percent
from nbgrad.records import LossCall, Run, TensorSummary
from nbgrad.thresholds import (
    DEAD_MIN_SAMPLES,
    DEAD_SHARE,
    INPUT_SCALE_MAX,
    SATURATED_SHARE,
    TARGET_SCALE_MAX,
)

REGRESSION = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "subtraction"}


def _scale(s: TensorSummary) -> float:
    return max(abs(s.mean or 0.0), s.std or 0.0)


def _stalled(run: Run) -> list[Evidence]:
    """The symptoms that say training is held back: no progress, NaN, or a blocked first layer."""
    found = []
    if facts.loss_nonfinite(run):
        found.append(Evidence("the loss became NaN/Inf", None))
    else:
        found += [Evidence(f"{t.text()} ({percent(max(t.drop, 0))} lower)", t.drop)
                  for t in facts.loss_trends(run) if not t.falling]
    layers = facts.weight_layers(run)
    first = layers[0].layer if layers else None
    for act in run.forward.activations:
        if act.after != first or act.after is None:
            continue
        if act.saturated_fraction is not None and act.saturated_fraction >= SATURATED_SHARE:
            found.append(Evidence(f"{percent(act.saturated_fraction)} of the {act.kind} after '{first}' "
                                  f"is saturated at step {act.step}", act.saturated_fraction, first,
                                  act.step))
        dead = act.dead_fraction
        if dead is not None and act.samples_per_unit >= DEAD_MIN_SAMPLES and dead >= DEAD_SHARE:
            found.append(Evidence(f"{act.dead_units} of {act.units} ReLU units after '{first}' are dead "
                                  f"at step {act.step}", dead, first, act.step))
    return found


def _explained(symptoms: list[Evidence], codes: tuple[str, ...]) -> list[str]:
    """The other diagnoses this one explains: the symptoms the scale was shown to cause (dead or
    saturated first-layer units, a loss that diverges) are its consequences, not their own
    causes; without such a symptom in the evidence, none."""
    blocked = any("dead" in e.text or "saturated" in e.text for e in symptoms)
    diverged = any("NaN" in e.text or "Inf" in e.text for e in symptoms)
    return [c for c in codes if (c in ("NBG601", "NBG602") and blocked)
            or (c not in ("NBG601", "NBG602") and diverged)]


def _input_origin(run: Run, model: str, line: int | None) -> int | None:
    """Where the model's input was made or prepared (`prepare(x)`'s return, `x = images`)."""
    callee = model.split(".")[0]
    args = facts.call_arguments(run.cell_line(line), callee) if callee else []
    return (facts.origin_line(run, args[0], line) if args else None) or line


def _target_origin(run: Run, call: LossCall) -> int | None:
    """Where the loss's target was made: the second argument of the loss call, or the side of
    `prediction - target` that is not the model's output."""
    text = run.cell_line(call.line)
    if call.function == "subtraction":
        made = {i.line for i in run.forward.inputs}
        predictions = {m.group(1) for n, t in facts.cell_lines(run) if n in made
                       and (m := re.match(r"^\s*(\w+)\s*=", t))}
        sides = re.search(r"([\w.]+(?:\[[^\]]*\])?)\s*-\s*([\w.]+(?:\[[^\]]*\])?)", text)
        if not sides:
            return None
        target = next((s for s in sides.groups() if s.split("[")[0] not in predictions), None)
        return facts.origin_line(run, target, call.line) if target else None
    callee = call.layer or call.function
    args = facts.call_arguments(text, callee)
    return facts.origin_line(run, args[1], call.line) if len(args) >= 2 else None


def _normalised_first(run: Run, model: str) -> bool:
    """The model's first layer is a normalisation layer, which rescales any input itself."""
    order = run.forward.order
    if model not in order or order.index(model) + 1 >= len(order):
        return False
    first = order[order.index(model) + 1]
    return any(m.layer == first and "Norm" in m.type for m in run.forward.modules)


def input_scale(run: Run) -> list[Diagnosis]:
    inputs = [i for i in run.forward.inputs if i.summary.mean is not None]
    if not inputs:
        return []
    inp = inputs[0]
    s = inp.summary
    if _scale(s) <= INPUT_SCALE_MAX or _normalised_first(run, inp.layer):
        return []
    symptoms = _stalled(run)
    if not symptoms:
        return []
    pixels = s.min is not None and s.max is not None and s.min >= 0 and 1 < s.max <= 255
    if pixels:
        title = f"The input of {inp.layer} is on a 0-255 scale (raw pixels?)"
        fix = "Scale the inputs to [0, 1] before the model: x = x / 255.0 (or normalise with the " \
              "dataset's mean and std)."
    else:
        title = f"The input of {inp.layer} is {_scale(s) / 1:.0f}x larger than the unit scale"
        fix = f"Standardise the inputs: x = (x - {s.mean:.4g}) / {s.std:.4g} (compute mean and std " \
              "on the training set, per feature)."
    evidence = [Evidence(f"input of {inp.layer} at step {inp.step}: mean {s.mean:.4g}, std {s.std:.4g}, "
                         f"range [{s.min:.4g}, {s.max:.4g}]", _scale(s), inp.layer, inp.step)]
    return [make(
        "NBG851", severity="warning", title=title,
        evidence=evidence + symptoms,
        why="Initialisation assumes inputs of order 1; inputs this large make the first layer's "
            "outputs and gradients just as large, which saturates activations, kills ReLUs or "
            "forces a learning rate too small for the other layers.",
        fix=fix, line=_input_origin(run, inp.layer, inp.line), confidence=0.8, layers=[inp.layer],
        explains=_explained(symptoms, ("NBG602", "NBG601")))]


def target_scale(run: Run) -> list[Diagnosis]:
    calls = [c for c in run.forward.losses if c.function in REGRESSION and c.target is not None
             and c.target.mean is not None and c.target_dtype.startswith("float")]
    if not calls:
        return []
    call = calls[0]
    t, p = call.target, call.prediction
    if t is None or _scale(t) <= TARGET_SCALE_MAX:
        return []
    if p is not None and p.mean is not None and _scale(p) * 10 > _scale(t):
        return []  # the model already outputs values on the targets' scale
    symptoms = _stalled(run)
    if not symptoms:
        return []
    evidence = [Evidence(f"targets at step {call.step}: mean {t.mean:.4g}, std {t.std:.4g}, range "
                         f"[{t.min:.4g}, {t.max:.4g}]", _scale(t), None, call.step)]
    if p is not None and p.mean is not None:
        evidence.append(Evidence(f"the model's outputs: mean {p.mean:.3g}, std {p.std:.3g}",
                                 _scale(p), None, call.step))
    return [make(
        "NBG852", severity="warning",
        title=f"The targets are around {t.mean:.4g} (std {t.std:.3g}), far from the model's "
              "outputs of order 1",
        evidence=evidence + symptoms,
        why="A freshly initialised model outputs values near 0; to reach targets this large it "
            "needs huge weights. The squared error (and its gradients) is enormous at first, so a "
            "learning rate that is stable is far too slow, and a faster one diverges.",
        fix=f"Scale the targets: y_scaled = (y - {t.mean:.4g}) / {t.std or 1:.4g}; train on y_scaled "
            f"and turn predictions back with pred * {t.std or 1:.4g} + {t.mean:.4g}.",
        line=_target_origin(run, call) or call.line, confidence=0.8,
        explains=_explained(symptoms, ("NBG403", "NBG702", "NBG703", "NBG503")))]
