"""What shrinks or cancels the step between backward() and the update.

Gradient clipping, weight decay and a GradScaler each sit between the gradient and the update. Each is
right in moderation; these rules report the cases where the records show it decided the step: every
gradient cut by an order of magnitude with the weights barely moving, decay pulling harder than the
loss, a scaler that skips steps for good.
"""

from __future__ import annotations

import math
import re
import statistics

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Event, Run
from nbgrad.thresholds import (
    CLIP_CUT_FACTOR,
    DECAY_DOMINANCE,
    DECAY_SHRINK_PER_STEP,
    SCALER_STUCK_SCALE,
    UPDATE_RATIO_HEALTHY_MIN,
)

COUPLED_DECAY = {"SGD", "Adam", "Adagrad", "RMSprop", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"}


def _max_norm(detail: str) -> float | None:
    found = re.search(r"max_norm=([-+\d.eE]+|inf)", detail)
    return float(found.group(1)) if found else None


def clip_too_tight(run: Run) -> list[Diagnosis]:
    """NBG404: clip_grad_norm_ cuts every step's gradient tenfold and the weights barely move."""
    found = []
    for oi in range(len(run.optimizers)):
        steps = facts.steps_of(run, oi)
        found_clips = [next((e for e in reversed(run.events) if e.kind == "clip" and e.step == s.index),
                            None) for s in steps]
        clips = [c for c in found_clips if c is not None and c.value is not None]
        if not steps or len(clips) < len(steps):
            continue
        cuts = []
        for clip in clips:
            limit = _max_norm(clip.detail)
            cuts.append((clip.value or 0.0) / limit if limit else 0.0)
        ratios = facts.layer_update_ratios(run, oi)
        moved = max(ratios.values()) if ratios else None
        if min(cuts) < CLIP_CUT_FACTOR or moved is None or moved >= UPDATE_RATIO_HEALTHY_MIN:
            continue
        clip = clips[0]
        limit = _max_norm(clip.detail)
        before = statistics.median(c.value or 0.0 for c in clips)
        suggestion = f"{before:.1g}"
        text = run.cell_line(clip.line)
        found.append(make(
            "NBG404", severity="warning",
            title=f"Gradient clipping at max_norm={fmt(limit)} is so tight that the weights barely "
                  "move",
            evidence=[
                Evidence(f"clip_grad_norm_ (line {clip.line}) cut the gradient norm from "
                         f"{fmt(before)} (median) to {fmt(limit)}: {fmt(min(cuts))}x or more at all "
                         f"{len(steps)} steps", value=min(cuts)),
                Evidence(f"each step changed the weights by at most {fmt(moved)} of their size "
                         f"(healthy: above {fmt(UPDATE_RATIO_HEALTHY_MIN)})", value=moved),
            ],
            why=("Clipping is meant to trim rare spikes. A limit far below the usual gradient norm "
                 "rescales every step to the same tiny length, so the limit, not the learning "
                 "rate, sets the step size."),
            fix=f"Raise max_norm to about the usual gradient norm ({suggestion} here), so that only "
                "unusually large gradients are clipped.",
            fix_code=facts.with_keyword(text, "max_norm", suggestion),
            line=clip.line, confidence=0.85, layers=list(ratios),
        ))
    return found


def weight_decay_dominates(run: Run) -> list[Diagnosis]:
    """NBG405: coupled weight decay pulls every layer harder than the loss gradient does."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        if opt.type not in COUPLED_DECAY or not opt.before.groups:
            continue
        steps = facts.steps_of(run, oi)
        for gi, group in enumerate(opt.before.groups):
            wd, lr = group.get("weight_decay"), group.get("lr")
            if not isinstance(wd, (int, float)) or not isinstance(lr, (int, float)) or wd <= 0:
                continue
            if group.get("decoupled_weight_decay") or lr * wd < DECAY_SHRINK_PER_STEP:
                continue
            held = set(opt.param_groups[gi])
            layers = list(dict.fromkeys(run.params[p].layer for p in held if p in run.params))
            pull: dict[str, float] = {}
            for layer in layers:
                own = [p for p in run.layers[layer].params if p in held] if layer in run.layers \
                    else []
                values = [wd * s.layers[layer].param_norm / grad for s in steps
                          if layer in s.layers and (grad := s.layers[layer].grad_norm)]
                if own and values:
                    pull[layer] = statistics.median(values)
            if not pull or min(pull.values()) < DECAY_DOMINANCE:
                continue
            pull = {k: pull[k] for k in run.layers if k in pull}
            weakest = min(pull.values())
            line = facts.optimizer_line(run, oi)
            evidence = [Evidence(
                f"weight_decay={fmt(wd)} pulls {facts.layer_names(pull)} toward zero "
                f"{fmt(weakest)}x or more as hard as the loss gradient does (wd * |weights| vs "
                f"|grad|, median over {len(steps)} steps)", value=weakest)]
            evidence.append(Evidence(f"the decay alone shrinks the weights by lr * wd = "
                                     f"{fmt(lr * wd)} of their size per step", value=lr * wd))
            for layer in pull:
                norms = [s.layers[layer].param_norm for s in steps if layer in s.layers]
                evidence.append(Evidence(f"weight norm of layer {layer}: {fmt(norms[0])} at step "
                                         f"{steps[0].index} -> {fmt(norms[-1])} at step "
                                         f"{steps[-1].index}", value=norms[-1], layer=layer))
            found.append(make(
                "NBG405", severity="warning",
                title=f"Weight decay ({fmt(wd)}) outweighs the loss: it, not the data, decides "
                      "the steps",
                evidence=evidence,
                why=("Weight decay adds wd * weights to every gradient. When that term outweighs the "
                     "loss gradient from the first step on, the steps mostly pull the weights toward "
                     "zero and the data barely shapes them."),
                fix=f"Lower weight_decay well below {wd / weakest:.2g} (where decay would pull as "
                    "hard as the loss); 1e-4 to 5e-4 is usual for SGD.",
                fix_code=facts.with_keyword(run.cell_line(line), "weight_decay", "5e-4"),
                line=line, confidence=0.8, layers=list(pull),
            ))
    return found


def grad_scaler_skips(run: Run) -> list[Diagnosis]:
    """NBG406: a GradScaler that keeps skipping optimizer steps, not just finding its scale."""
    skips = [e for e in run.events if e.kind == "step_skipped" and e.value is not None]
    if not skips:
        return []
    low = [e for e in skips if (e.value or 0.0) < SCALER_STUCK_SCALE]
    pairs = [(a, b) for a, b in _consecutive_skips(run) if a.value == b.value]
    if not low and not pairs:
        return []
    line = skips[0].line
    name = facts.receiver(run, line, "step") or "scaler"
    real = len(run.steps)
    evidence = [Evidence(f"{name}.step() (line {line}) skipped {len(skips)} optimizer steps "
                         "because the gradients held inf or NaN; "
                         f"{real} steps were taken", value=float(len(skips)))]
    losses = [v for s in run.steps for v in s.losses] + run.losses_after_last_step
    bad = [v for v in losses if v is not None and not math.isfinite(v)]
    if bad:
        evidence.append(Evidence(f"{len(bad)} of {len(losses)} losses were {fmt(bad[0])}",
                                 value=bad[0]))
    if pairs:
        evidence.append(Evidence(f"the scale stayed at {pairs[0][0].value:g} from one skipped "
                                 f"step to the next: {name}.update() is not called, so it never "
                                 "lowers the scale", value=pairs[0][0].value))
        return [make(
            "NBG406", severity="error" if not real else "warning",
            title=f"The GradScaler skips every step: {name}.update() is never called",
            evidence=evidence,
            why=("A GradScaler skips a step whose scaled gradients overflowed and relies on "
                 "update() to lower the scale; without update() the scale stays too high and "
                 "every step is skipped."),
            fix=f"Call {name}.update() after {name}.step(...) (line {line}) in every iteration.",
            fix_code=f"{name}.update()", line=line, confidence=0.95,
        )]
    evidence.append(Evidence(f"it kept skipping at scale {fmt(low[0].value)}, below "
                             f"{fmt(SCALER_STUCK_SCALE)}: the scaling is not what overflows, the "
                             "gradients themselves are not finite", value=low[0].value))
    return [make(
        "NBG406", severity="error" if not real else "warning",
        title="The GradScaler skips every step: the gradients are inf or NaN even unscaled",
        evidence=evidence,
        why=("With automatic mixed precision a non-finite gradient does not crash: the scaler "
             "silently skips the step and lowers the scale. Once the scale is below 1 this goes on "
             "forever, and the model never changes."),
        fix=("Find where inf/NaN first appears: check the inputs and targets "
             "(torch.isfinite(x).all()) and the loss; compute the loss in float32 outside autocast."),
        line=line, confidence=0.9,
        consequence_of=["NBG503"],  # where the NaN/Inf comes from, when that is known
    )]


def _consecutive_skips(run: Run) -> list[tuple[Event, Event]]:
    """Pairs of skip events with no optimizer step between them."""
    out = []
    previous: Event | None = None
    for event in run.events:
        if event.kind == "step":
            previous = None
        elif event.kind == "step_skipped":
            if previous is not None:
                out.append((previous, event))
            previous = event
    return out


RULES = [clip_too_tight, weight_decay_dominates, grad_scaler_skips]
