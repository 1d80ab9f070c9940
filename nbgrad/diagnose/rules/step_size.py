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
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, Severity
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Event, Run
from nbgrad.thresholds import (
    CLIP_CUT_FACTOR,
    DECAY_DOMINANCE,
    DECAY_SHRINK_PER_STEP,
    LOSS_DIVERGE_FACTOR_BATCHES,
    SCALER_STUCK_SCALE,
    UPDATE_RATIO_HEALTHY_MIN,
)

COUPLED_DECAY = {"SGD", "Adam", "Adagrad", "RMSprop", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"}
DECOUPLED_DECAY = {"AdamW"}
# optimizers whose step does not grow with the gradient's scale (they divide by its running size)
ADAPTIVE = {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad", "RMSprop", "Adadelta",
            "Adafactor", "SparseAdam", "Rprop"}


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
        losses = facts.finite(facts.loss_series(run, oi))
        stalled = facts.stalled(losses)
        # Adam and its kin divide by the gradient's own scale, so a clip changes their step only
        # when it leaves the weights barely moving or the loss stalled; SGD's step is the clip's
        adaptive = run.optimizers[oi].type in ADAPTIVE
        if min(cuts) < CLIP_CUT_FACTOR or moved is None or \
                (adaptive and moved >= UPDATE_RATIO_HEALTHY_MIN and not stalled):
            continue
        clip = clips[0]
        limit = _max_norm(clip.detail)
        before = statistics.median(c.value or 0.0 for c in clips)
        suggestion = f"{before:.1g}"
        text = run.cell_line(clip.line)
        found.append(make(
            "NBG404", severity="warning",
            title=f"Gradient clipping at max_norm={fmt(limit)} is so tight that it, not the "
                  "learning rate, sets the step size",
            evidence=[
                Evidence(f"clip_grad_norm_ (line {clip.line}) cut the gradient norm from "
                         f"{fmt(before)} (median) to {fmt(limit)}: {fmt(min(cuts))}x or more at all "
                         f"{len(steps)} steps", value=min(cuts)),
                Evidence(f"each step changed the weights by at most {fmt(moved)} of their size "
                         f"(healthy: above {fmt(UPDATE_RATIO_HEALTHY_MIN)})"
                         if moved < UPDATE_RATIO_HEALTHY_MIN else
                         "the loss does not fall: mean of the first third of the steps "
                         f"{fmt(facts.thirds(losses)[0])}, of the last {fmt(facts.thirds(losses)[1])}"
                         if stalled else
                         f"{run.optimizers[oi].type} steps by lr x gradient: every step had the "
                         f"length lr x {fmt(limit)} whatever the gradient, {fmt(min(cuts))}x or "
                         "more shorter than the gradient asked for", value=moved),
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
    """NBG405: coupled weight decay pulls every layer harder than the loss gradient does; decoupled
    decay (AdamW) shrinks the weights faster than the steps can grow them."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        if opt.before.groups and (opt.type in DECOUPLED_DECAY or any(
                g.get("decoupled_weight_decay") for g in opt.before.groups)):
            found += _decoupled_decay(run, oi)
            continue
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


def _decoupled_decay(run: Run, oi: int) -> list[Diagnosis]:
    """AdamW shrinks each weight by lr * wd of itself at every step, whatever the gradient; Adam's
    own step moves each entry by about lr. When lr * wd is a large share of a weight per step and
    every decayed layer's weights shrank over the run, the decay, not the data, sets their size."""
    opt = run.optimizers[oi]
    steps = facts.steps_of(run, oi)
    found = []
    for gi, group in enumerate(opt.before.groups):
        wd, lr = group.get("weight_decay"), group.get("lr")
        if not isinstance(wd, (int, float)) or not isinstance(lr, (int, float)) or wd <= 0:
            continue
        if lr * wd < DECAY_SHRINK_PER_STEP or len(steps) < 2:
            continue
        held = set(opt.param_groups[gi])
        layers = [name for name, layer in run.layers.items()
                  if any(p in held for p in layer.params)]
        norms = {layer: (first.layers[layer].param_norm, last.layers[layer].param_norm)
                 for layer in layers for first, last in [(steps[0], steps[-1])]
                 if layer in first.layers and layer in last.layers}
        if not norms or all(b >= a for a, b in norms.values()):
            continue  # no layer shrank: the decay did not win anywhere
        line = facts.optimizer_line(run, oi)
        kept = (1 - lr * wd) ** len(steps)
        evidence = [Evidence(f"{opt.type} shrinks every weight by lr * weight_decay = {fmt(lr)} * "
                             f"{fmt(wd)} = {fmt(lr * wd)} of its size at each step, on top of the "
                             f"gradient step: over these {len(steps)} steps decay alone keeps "
                             f"{fmt(kept)} of them", value=lr * wd)]
        evidence += [Evidence(f"weight norm of layer {layer}: {fmt(a)} at step {steps[0].index} -> "
                              f"{fmt(b)} at step {steps[-1].index}", value=b, layer=layer)
                     for layer, (a, b) in norms.items()]
        evidence.append(Evidence(f"each weight settles where decay and the step balance, at about "
                                 f"1 / weight_decay = {fmt(1 / wd)} per entry", value=1 / wd))
        suggestion = facts.power_of_ten(DECAY_SHRINK_PER_STEP / 10 / lr)
        found.append(make(
            "NBG405", severity="warning",
            title=f"Weight decay ({fmt(wd)}) shrinks the weights by {fmt(lr * wd)} of their size "
                  "per step: it, not the data, decides their size",
            evidence=evidence,
            why=("Decoupled weight decay multiplies every weight by (1 - lr * weight_decay) at each "
                 "step, a thousandth of its size or more here: a whole healthy update spent on "
                 "shrinking. Adam's own step changes each weight by about lr, so the weights "
                 "settle where the two balance, at about 1 / weight_decay per entry, whatever the "
                 "data asks for."),
            fix=f"Lower weight_decay to about {suggestion} or less (AdamW's default is 0.01; 0.01 "
                "to 0.1 is usual).",
            fix_code=facts.with_keyword(run.cell_line(line), "weight_decay", suggestion),
            line=line, confidence=0.8, layers=list(norms),
        ))
    return found


def clip_after_step(run: Run) -> list[Diagnosis]:
    """NBG407: clip_grad_norm_ runs after step() in the same iteration, with no backward() in
    between: the step used the gradients unclipped, and the clip only trims gradients that the
    next zero_grad() throws away."""
    late: list[tuple[Event, Event]] = []  # (step, clip)
    clips = 0
    last_step: Event | None = None
    for event in run.events:
        if event.kind == "backward":
            last_step = None
        elif event.kind == "step":
            last_step = event
        elif event.kind == "clip":
            clips += 1
            if last_step is not None:
                late.append((last_step, event))
    if not late or len(late) * 2 < clips:
        return []
    step, clip = late[0]
    limit = _max_norm(clip.detail)
    norms = [c.value for _, c in late if c.value is not None and math.isfinite(c.value)]
    over = [n for n in norms if limit is not None and n > limit]
    backward = facts.first_line(run, "backward")
    evidence = [Evidence(f"clip_grad_norm_ (line {clip.line}) ran after {step.target}.step() "
                         f"(line {step.line}) in {len(late)} of {clips} iterations, with no "
                         "backward() in between: the step had already used the gradients",
                         value=float(len(late)))]
    if norms:
        evidence.append(Evidence(
            f"the gradients those steps used had norm {fmt(statistics.median(norms))} (median); "
            f"max_norm={fmt(limit)}, so {len(over)} of {len(norms)} steps would have been clipped",
            value=statistics.median(norms)))
    grew = next((g for oi in range(len(run.optimizers))
                 if (first := facts.first_nonfinite_step(run, oi)) is not None
                 and (g := facts.growth_before(run, oi, facts.steps_of(run, oi)[first].index))),
                None)
    losses = [v for oi in range(len(run.optimizers)) for v in facts.finite(facts.loss_series(run, oi))]
    if grew is None and len(losses) >= 2 and losses[0] > 0 and \
            max(losses) >= LOSS_DIVERGE_FACTOR_BATCHES * losses[0]:
        grew = f"the loss grew from {fmt(losses[0])} to {fmt(max(losses))}"
    if grew is not None:
        evidence.append(Evidence(grew))
    severity: Severity = "error" if over and grew else "warning" if over else "info"
    return [make(
        "NBG407", severity=severity,
        title=f"clip_grad_norm_ runs after {step.target}.step(): the steps use unclipped gradients"
              + (" and the loss diverges" if severity == "error" else ""),
        evidence=evidence,
        why=("optimizer.step() applies the gradients present when it is called. Clipping them "
             "afterwards changes nothing the step used; zero_grad() then discards them. The "
             "protection the clip was written for never happens"
             + (", and here the unclipped steps made the loss diverge." if grew else ".")),
        fix=f"Call clip_grad_norm_ between loss.backward() (line {backward}) and "
            f"optimizer.step() (line {step.line}).",
        line=clip.line, confidence=0.95 if over else 0.6,
    )]


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


RULES = [clip_too_tight, clip_after_step, weight_decay_dominates, grad_scaler_skips]
