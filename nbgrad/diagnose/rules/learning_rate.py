"""A learning rate of zero, or so small that the updates are negligible.

"Small" is judged by what the lr does, the update/param ratio of each layer, and only blamed on the
lr when the same gradients at an ordinary lr would give a healthy update: a converged model with tiny
gradients is not reported. A schedule that raises the lr during the run (a warm-up) is never reported.
Too large a learning rate shows in the loss and is decided in loss_trend.py.
"""

from __future__ import annotations

import itertools
import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run
from nbgrad.thresholds import (
    LR_DECAY_COLLAPSE,
    LR_REFERENCE,
    UPDATE_RATIO_HEALTHY_MIN,
    UPDATE_RATIO_NEGLIGIBLE,
)


def _group_layers(run: Run, optimizer: int, group: int) -> list[str]:
    held = run.optimizers[optimizer].param_groups[group]
    return list(dict.fromkeys(run.params[p].layer for p in held if p in run.params))


def lr_zero(run: Run) -> list[Diagnosis]:
    """NBG401: a param group whose lr is 0 at every step and is not being warmed up."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        for gi, group in enumerate(opt.param_groups):
            lrs = facts.lr_series(run, oi, gi)
            if not lrs or any(lr != 0 for lr in lrs) or facts.growing_lr(run, oi, gi):
                continue
            if not any(facts.got_grad(run, p) for p in group):
                continue
            line = facts.optimizer_line(run, oi)
            which = f"group {gi} of '{opt.name}'" if len(opt.param_groups) > 1 else f"'{opt.name}'"
            found.append(make(
                "NBG401", severity="error",
                title=f"The learning rate of {which} is 0: its parameters never change",
                evidence=[Evidence(f"lr = 0 at all {len(lrs)} steps of {opt.type} '{opt.name}' "
                                   f"(param group {gi}, {facts.names(group)}), although they got "
                                   "gradients", value=0.0)],
                why="Every optimizer scales its step by lr: with lr = 0 the step is zero.",
                fix=f"Give '{opt.name}' a positive learning rate: 1e-3 is PyTorch's default for "
                    "SGD and Adam.",
                fix_code=facts.with_keyword(run.cell_line(line), "lr", "1e-3"),
                line=line, confidence=1.0, layers=_group_layers(run, oi, gi),
            ))
    return found


def lr_too_small(run: Run) -> list[Diagnosis]:
    """NBG402: updates negligible next to the weights, and the lr (not the gradient) is why."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        for gi in range(len(opt.param_groups)):
            lrs = facts.lr_series(run, oi, gi)
            if not lrs or facts.growing_lr(run, oi, gi):
                continue
            lr = lrs[-1]
            if not 0 < lr < LR_REFERENCE:
                continue
            layers = _group_layers(run, oi, gi)
            ratios = {k: v for k, v in facts.layer_update_ratios(run, oi).items() if k in layers}
            if not ratios:
                continue
            largest = max(ratios.values())
            losses = facts.finite(facts.loss_series(run, oi))
            stalled = facts.stalled(losses)
            if largest >= UPDATE_RATIO_HEALTHY_MIN or (largest >= UPDATE_RATIO_NEGLIGIBLE
                                                        and not stalled):
                continue  # small but not negligible updates are blamed only when the loss stalls
            projected = largest * LR_REFERENCE / lr
            if projected < UPDATE_RATIO_HEALTHY_MIN:
                continue  # the gradients themselves are tiny (converged?): not the lr's doing
            suggestion = facts.power_of_ten(lr * 1e-3 / largest) if largest > 0 else "1e-3"
            evidence = [
                Evidence(f"with lr = {fmt(lr)}, each step changed the weights of "
                         f"{facts.layer_names(ratios)} by at most {fmt(largest)} of their size "
                         f"(median over {len(lrs)} steps; negligible below "
                         f"{fmt(UPDATE_RATIO_NEGLIGIBLE)})", value=largest),
                Evidence(f"the same gradients at lr = {fmt(LR_REFERENCE)} would change them by "
                         f"{fmt(projected)} per step (healthy: above {fmt(UPDATE_RATIO_HEALTHY_MIN)})",
                         value=projected),
            ]
            if len(losses) >= 2:
                first, last = facts.thirds(losses)
                evidence.append(Evidence(
                    f"the loss went from {fmt(losses[0])} to {fmt(losses[-1])}"
                    + (f" (mean of the first third {fmt(first)}, of the last {fmt(last)}: it does "
                       "not fall)" if stalled else ""), value=losses[-1]))
            line = facts.optimizer_line(run, oi)
            found.append(make(
                "NBG402", severity="warning",
                title=f"The learning rate ({fmt(lr)}) is too small: the weights barely move",
                evidence=evidence,
                why=(f"At {fmt(largest)} of their size per step, the weights need about "
                     f"{fmt(1 / largest)} steps to change by their own size; the loss cannot "
                     "visibly improve in any practical number of steps."),
                fix=f"Raise the learning rate of '{opt.name}' to about {suggestion}, which would "
                    "move the weights by about 1e-3 of their size per step (the usual rule of "
                    "thumb).",
                fix_code=facts.with_keyword(run.cell_line(line), "lr", suggestion),
                line=line, confidence=0.85, layers=sorted(ratios, key=layers.index),
                consequence_of=["NBG408"],  # a schedule that decayed the rate explains it
            ))
    return found


def lr_decays_away(run: Run) -> list[Diagnosis]:
    """NBG408: a scheduler stepped inside the batch loop cut the rate by orders of magnitude within
    the first steps of the run: a schedule written in epochs, applied per batch."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        step_line = next((e.line for e in run.events if e.kind == "step" and e.line is not None),
                         None)
        loops = facts.loop_chain(run, step_line)
        for gi in range(len(opt.param_groups)):
            lrs = facts.lr_series(run, oi, gi)
            after = opt.after.groups[gi].get("lr") if len(opt.after.groups) > gi else None
            series = [*lrs, float(after)] if isinstance(after, (int, float)) else lrs
            if len(lrs) < 2 or series[0] <= 0 or series[-1] * LR_DECAY_COLLAPSE > series[0]:
                continue
            stepped = [(line, name, kind) for line, name in facts.method_calls(run, "step")
                       if (kind := _scheduler(run, name)) is not None]
            inner = [(line, name, kind) for line, name, kind in stepped
                     if len(loops) >= 2 and facts.loop_chain(run, line) == loops]
            if not inner:
                continue  # the rate falls, but not from a scheduler stepped with each batch
            line, name, kind = inner[0]
            changes = sum(1 for a, b in itertools.pairwise(series) if a != b)
            fall = series[0] / series[-1] if series[-1] > 0 else math.inf
            found.append(make(
                "NBG408", severity="warning",
                title=f"The learning rate fell {fmt(fall)}x in {len(lrs)} steps: '{name}' is "
                      "stepped once per batch",
                evidence=[
                    Evidence(f"lr of '{opt.name}'" + (f" (group {gi})" if gi else "")
                             + f": {fmt(series[0])} at step 0, {fmt(series[-1])} after step "
                             f"{len(lrs) - 1}; it changed {changes} times", value=series[-1]),
                    Evidence(f"{kind} '{name}'.step() (line {line}) runs in the batch loop (line "
                             f"{loops[-1]}), as often as {opt.name}.step(): the schedule advances "
                             f"by one per batch", value=float(len(lrs))),
                ],
                why=(f"{kind} counts calls of step(): its step_size, milestones, gamma or T_max "
                     "are usually written in epochs. Called for every batch, the schedule of the "
                     "whole run passes within the first epoch, and the rest of training runs at a "
                     "learning rate near 0, where the weights stop changing."),
                fix=(f"Call {name}.step() once per epoch: move line {line} out of the batch loop, to "
                     f"the end of the epoch loop (line {loops[-2]}). If a per-batch schedule is "
                     "meant, give it its length in batches (step_size, T_max or total_steps = "
                     "epochs * len(loader))."),
                line=line, confidence=0.85, layers=_group_layers(run, oi, gi),
            ))
    return found


SCHEDULERS = ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
              "MultiplicativeLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts",
              "LinearLR", "ConstantLR", "PolynomialLR", "SequentialLR", "ChainedScheduler")


def _scheduler(run: Run, name: str) -> str | None:
    """The class of the lr scheduler the cell binds to `name`, or None."""
    built = facts.constructed_by(run, name)
    if built is None:
        return None
    kind = built[1].rsplit(".", 1)[-1]
    return kind if kind in SCHEDULERS or "lr_scheduler" in built[1] else None


RULES = [lr_zero, lr_too_small, lr_decays_away]
