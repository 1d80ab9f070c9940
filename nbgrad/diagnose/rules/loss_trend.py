"""The loss over the recorded steps: diverging, oscillating, not decreasing.

A trend compares the mean loss of the first and last thirds of an optimizer's steps, so one noisy
mini-batch cannot decide it. The loss alone rarely proves a cause, so the severity follows what else
was measured: a diverging or oscillating loss together with large updates is a learning rate that is
too large (an error or a warning); a loss that merely stays flat is a note. Runs with several
optimizers that each have their own loss (a GAN) are left out: their losses are meant to fight.

"Flat" needs more than a small fall. A small learning rate makes a loss fall by a few percent in
ten steps, yet on the same batch it falls at every step: that loss is learning slowly, and telling
the student its targets may carry no pattern sends them after a bug that is not there. So the note
also needs the loss to have stopped falling (its last half falls no more often than noise would,
by Kendall's rank test) and, where the loss function says what predictions with no pattern score
(ln C, the targets' variance), to sit at that chance level.
"""

from __future__ import annotations

import itertools
import math
import statistics

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import (
    LOSS_AT_CHANCE,
    LOSS_DIVERGE_FACTOR,
    LOSS_DIVERGE_FACTOR_BATCHES,
    LOSS_MIN_DECREASE,
    LOSS_RISE,
    LOSS_TREND_SIGNIFICANCE,
    OVERSHOOT_RISES,
    TREND_MIN_STEPS,
    UPDATE_RATIO_HEALTHY_MIN,
    UPDATE_RATIO_LARGE,
    UPDATE_RATIO_REPLACES,
)


def _thirds(values: list[float]) -> tuple[float, float]:
    third = max(len(values) // 3, 1)
    return statistics.fmean(values[:third]), statistics.fmean(values[-third:])


def _rises(values: list[float]) -> int:
    """How many steps raised the loss by more than LOSS_RISE over the step before."""
    return sum(1 for a, b in itertools.pairwise(values) if b - a > LOSS_RISE * abs(a))


def loss_trend(run: Run) -> list[Diagnosis]:
    """NBG403 lr-too-large, NBG702 loss-diverging, NBG703 loss-oscillating, NBG701 (note) flat.

    On the same batch at every step a change of the loss is the model's doing; across changing
    mini-batches it is mostly the batches', so only a rise by an order of magnitude (or to inf/NaN)
    counts there, and oscillation and flatness are not judged at all.
    """
    if run.error is not None or facts.adversarial(run):
        return []
    found = []
    for oi in range(len(run.optimizers)):
        series = [v for v in facts.loss_series(run, oi) if v is not None]
        if not series:
            continue
        same = facts.same_batch(run, oi)
        ratios = facts.layer_update_ratios(run, oi)
        typical = statistics.median(ratios.values()) if ratios else 0.0
        bad = next((i for i, v in enumerate(series) if not math.isfinite(v)), None)
        values = series[:bad]
        diagnosis = None
        if any(facts.leftover_grads(run, s) for s in facts.steps_of(run, oi)[1:]):
            continue  # gradients that accumulate explain any trend (NBG301)
        spike = _spike(run, oi, values)
        grew = facts.growth_before(run, oi, facts.steps_of(run, oi)[bad].index) \
            if bad is not None and bad > 0 else None
        if bad is not None and bad > 0 and typical >= UPDATE_RATIO_LARGE and grew is not None:
            diagnosis = _lr_too_large(run, oi, values, typical,
                                      f"then became {fmt(series[bad])} at step {bad}")
        elif spike is not None:
            diagnosis = _lr_too_large(run, oi, values, typical, spike[0], spike[1])
        elif bad is None and len(values) >= TREND_MIN_STEPS:
            first, last = _thirds(values)
            scale = abs(first) or 1.0
            factor = LOSS_DIVERGE_FACTOR if same else LOSS_DIVERGE_FACTOR_BATCHES
            if last - first >= (factor - 1) * scale:
                growth = f"the mean of the last steps is {fmt(last / first)}x the first's" \
                    if first > 0 else f"the mean rose from {fmt(first)} to {fmt(last)}"
                if typical >= UPDATE_RATIO_LARGE:
                    diagnosis = _lr_too_large(run, oi, values, typical, growth)
                elif same:
                    diagnosis = _diverging(run, oi, values, growth, typical)
            elif same and _rises(values) >= OVERSHOOT_RISES * (len(values) - 1) \
                    and typical >= UPDATE_RATIO_LARGE:
                diagnosis = _oscillating(run, oi, values, _rises(values), typical)
            elif same and first - last < LOSS_MIN_DECREASE * scale and typical >= UPDATE_RATIO_HEALTHY_MIN \
                    and not facts.growing_lr(run, oi):
                diagnosis = _flat(run, oi, values, first, last, typical)
        if diagnosis is not None:
            found.append(diagnosis)
    return found


def _spike(run: Run, oi: int, values: list[float]) -> tuple[str, Evidence] | None:
    """The loss jumped an order of magnitude above its first value right after a step that moved
    some layer's weights by their own size or more: that step overshot. (growth text, evidence)"""
    if len(values) < 2 or values[0] <= 0 or min(values) < 0:
        return None  # a loss that can be negative (a policy gradient) has no such scale
    k = next((i for i, v in enumerate(values) if v >= LOSS_DIVERGE_FACTOR_BATCHES * values[0]), None)
    if k is None:
        return None
    steps = facts.steps_of(run, oi)[:k]
    moves = [(s.index, name, ratio) for s in steps for name, stats in s.layers.items()
             if (ratio := stats.update_to_param_ratio) is not None and math.isfinite(ratio)]
    if not moves:
        return None
    step, layer, ratio = max(moves, key=lambda m: m[2])
    if ratio < UPDATE_RATIO_REPLACES:
        return None
    growth = (f"at step {k} it is {fmt(values[k] / values[0])}x the first ({fmt(values[0])})")
    return growth, Evidence(f"step {step} changed the weights of layer {layer} by {fmt(ratio)}x their "
                            f"own size (a healthy step: under {fmt(UPDATE_RATIO_LARGE)}x)",
                            value=ratio, layer=layer, step=step)


def _losses(values: list[float]) -> str:
    """The loss values, the middle elided when there are many."""
    if len(values) <= 8:
        return ", ".join(fmt(v) for v in values)
    return ", ".join([*(fmt(v) for v in values[:4]), "...", *(fmt(v) for v in values[-3:])])


def _lr_too_large(run: Run, oi: int, values: list[float], typical: float,
                  growth: str, step: Evidence | None = None) -> Diagnosis:
    opt = run.optimizers[oi]
    lrs = facts.lr_series(run, oi)
    lr = lrs[0] if lrs else None
    line = facts.optimizer_line(run, oi)
    suggestion = facts.power_of_ten(lr / 10) if lr else None
    evidence = [Evidence(f"loss per step: {_losses(values)}; {growth}",
                         value=values[-1] if values else None)]
    evidence.append(step or Evidence(
        f"each step changed the weights by {fmt(typical)} of their size (median over layers; "
        f"healthy: below {fmt(UPDATE_RATIO_LARGE)})", value=typical))
    title = f"The learning rate ({fmt(lr)}) is too large: the loss diverges"
    fix = (f"Lower the learning rate of '{opt.name}' about 10x"
           + (f", to {suggestion}" if suggestion else "") + "; lower it further if the loss "
           "still grows.")
    fix_code = facts.with_keyword(run.cell_line(line), "lr", suggestion) if suggestion else None
    return make(
        "NBG403", severity="error",
        title=title,
        evidence=evidence,
        why=("Steps this large jump past the minimum to where the loss is higher, and the larger "
             "gradient there makes the next jump larger still."),
        fix=fix, fix_code=fix_code,
        line=line, confidence=0.9, layers=list(facts.layer_update_ratios(run, oi)),
        # inputs or targets on a far-off scale, weights initialised far too large, a clip that runs
        # after the step: each makes the steps too large for this learning rate, and is the fix
        consequence_of=["NBG851", "NBG852", "NBG552", "NBG407", "NBG651"],
    )


def _diverging(run: Run, oi: int, values: list[float], growth: str, typical: float) -> Diagnosis:
    opt = run.optimizers[oi]
    return make(
        "NBG702", severity="warning",
        title="The loss grows step after step",
        evidence=[Evidence(f"loss per step of '{opt.name}': {_losses(values)}; {growth}",
                           value=values[-1]),
                  Evidence(f"the updates are not large ({fmt(typical)} of the weights per step), "
                           "so the learning rate alone does not explain it", value=typical)],
        why=("Training minimises the loss; a loss that keeps rising means the steps go uphill: "
             "the loss may reward the wrong thing (a sign or a reciprocal), or the data changes "
             "under the model."),
        fix="Check that the loss is small when the predictions are right, and that backward() is "
            "called on that loss; then lower the learning rate.",
        line=facts.first_line(run, "backward"), confidence=0.6,
    )


def _oscillating(run: Run, oi: int, values: list[float], rises: int, typical: float) -> Diagnosis:
    opt = run.optimizers[oi]
    lrs = facts.lr_series(run, oi)
    line = facts.optimizer_line(run, oi)
    suggestion = facts.power_of_ten(lrs[0] / 10) if lrs and lrs[0] > 0 else None
    return make(
        "NBG703", severity="warning",
        title=f"The loss goes up at {rises} of {len(values) - 1} steps on the same batch: the "
              "steps overshoot",
        evidence=[Evidence(f"loss per step of '{opt.name}' (the same batch at every step): "
                           f"{_losses(values)}", value=values[-1]),
                  Evidence(f"{rises} of {len(values) - 1} steps raised it by more than "
                           f"{LOSS_RISE:.0%}; a small enough step never raises it",
                           value=float(rises)),
                  Evidence(f"each step changed the weights by {fmt(typical)} of their size "
                           f"(median over layers; healthy: below {fmt(UPDATE_RATIO_LARGE)})",
                           value=typical)],
        why=("Each step jumps across the valley of the loss to the other side: the learning rate is "
             "too large for the curvature here, so training zigzags instead of descending."),
        fix=f"Lower the learning rate of '{opt.name}' about 10x"
            + (f", to {suggestion}" if suggestion else "") + ".",
        fix_code=facts.with_keyword(run.cell_line(line), "lr", suggestion) if suggestion else None,
        line=line, confidence=0.75, layers=list(facts.layer_update_ratios(run, oi)),
    )


def _falling_pairs(values: list[float]) -> tuple[int, int, float]:
    """Kendall's rank test for a downward trend over the last half of `values`: (pairs in which
    the later loss is lower, pairs, p). p is the chance of at least that many falling pairs if the
    values were noise with no trend (every order equally likely): exact for up to 10 values (the
    distribution of the number of inversions), the normal approximation of Mann's S above that."""
    tail = values[len(values) // 2:]
    n = len(tail)
    pairs = n * (n - 1) // 2
    falls = sum(1 for i, a in enumerate(tail) for b in tail[i + 1:] if b < a)
    if n <= 10:
        counts = [1]  # orders of m values by their number of falling pairs, for m = 1, 2, ...
        for m in range(2, n + 1):
            wider = [0] * (len(counts) + m - 1)
            for k, c in enumerate(counts):
                for j in range(m):
                    wider[k + j] += c
            counts = wider
        return falls, pairs, sum(counts[falls:]) / math.factorial(n)
    spread = math.sqrt(n * (n - 1) * (2 * n + 5) / 72)  # of the count of falls, without ties
    z = (falls - pairs / 2 - 0.5) / spread
    return falls, pairs, 1 - statistics.NormalDist().cdf(z)


def _chance_of(call: LossCall) -> tuple[float, str] | None:
    """What this loss scores for predictions that carry no pattern, with how that is known: evenly
    spread class probabilities (ln C), or one constant prediction per sample, the best of which is
    the targets' mean (their variance under mean squared error, their entropy under binary
    cross-entropy). Only for the mean reduction: a sum scales with the batch."""
    if call.reduction != "mean":
        return None
    target = call.target
    if facts.scores_ln_classes(call) and call.classes:
        return math.log(call.classes), (f"predictions spread evenly over the {call.classes} classes "
                                        f"score ln({call.classes}) = {fmt(math.log(call.classes))}")
    if target is None or target.mean is None or call.input_shape != call.target_shape:
        return None
    if call.function == "mse_loss" and target.std is not None and target.std > 0 \
            and math.prod(call.target_shape[1:]) == 1:
        variance = target.std ** 2
        return variance, (f"predicting the targets' mean ({fmt(target.mean)}) for every sample "
                          f"scores {fmt(variance)}, their variance")
    if call.function in ("binary_cross_entropy", "binary_cross_entropy_with_logits") \
            and target.min is not None and target.max is not None \
            and target.min >= 0 and target.max <= 1 and 0 < target.mean < 1:
        share = target.mean
        entropy = -(share * math.log(share) + (1 - share) * math.log(1 - share))
        return entropy, (f"predicting the share of positive targets ({fmt(share)}) for every "
                         f"sample scores {fmt(entropy)}")
    return None


def _chance(run: Run, oi: int) -> tuple[float, str] | None:
    """The chance level of the loss this optimizer steps on, from the last loss call the detail
    windows saw whose value is that step's recorded loss (so a penalty added to it, or a second
    loss, leaves the chance level unknown rather than wrong)."""
    recorded = {s.index: facts.step_loss(s, run.optimizers[oi].closure)
                for s in facts.steps_of(run, oi)}
    for call in reversed(run.forward.losses):
        value = recorded.get(call.step)
        if value is None or call.value is None or not math.isclose(call.value, value,
                                                                    rel_tol=1e-5):
            continue
        return _chance_of(call)
    return None


def _flat(run: Run, oi: int, values: list[float], first: float, last: float,
          typical: float) -> Diagnosis | None:
    """NBG701, only for a loss that stopped falling and, where chance is known, sits at it."""
    falls, pairs, p = _falling_pairs(values)
    if p < LOSS_TREND_SIGNIFICANCE:
        return None  # it still falls at nearly every step: slowly learning, not flat
    chance = _chance(run, oi)
    if chance is not None and abs(last / chance[0] - 1) > LOSS_AT_CHANCE:
        return None  # a plateau away from chance: the targets do carry a pattern it learned
    opt = run.optimizers[oi]
    change = (last - first) / abs(first) if first else 0.0
    half = len(values) - len(values) // 2
    evidence = [
        Evidence(f"loss per step of '{opt.name}': {_losses(values)} (mean of the first "
                 f"third {fmt(first)}, of the last third {fmt(last)}: {change:+.1%}; "
                 "the same batch at every step)", value=change),
        Evidence(f"over the last {half} steps it goes down and up with no steady fall: in "
                 f"{falls} of their {pairs} pairs the later loss is lower, which noise with no "
                 f"trend gives {p:.0%} of the time (a steady fall: nearly all {pairs})", value=p),
        Evidence(f"the weights do move ({fmt(typical)} of their size per step)", value=typical)]
    if chance is not None:
        level, how = chance
        evidence.insert(2, Evidence(f"{how}; the last third's mean loss is {fmt(last / level)}x "
                                    "that: chance level, as if the model had learned nothing",
                                    value=level))
    return make(
        "NBG701", severity="info",
        title=f"The loss fell by less than {LOSS_MIN_DECREASE:.0%} in {len(values)} steps"
              + (" and stays at chance level" if chance is not None else ""),
        evidence=evidence,
        why=("The weights change, yet the loss on this same batch stopped falling: the targets "
             "may carry no pattern the model can fit (inputs and targets shuffled apart, random "
             "labels), or the model may be too small for them. Few steps can also be too early."),
        fix="Check that each input is paired with its own target; then run more steps "
            "(--steps 50) to see whether the loss starts to fall.",
        confidence=0.4,
    )


RULES = [loss_trend]
