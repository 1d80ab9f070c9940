"""Whether a tried fix worked, decided from the numbers of both runs: the cell's own and the
corrected one, each run from the state before the cell for the same number of steps.

`resolved`: the diagnosis no longer fires (as an error or warning) on the corrected run.
`improved`: the corrected run's last loss is lower than the cell's own (a finite loss beats NaN;
a cell that raised before any step has no loss, and then the corrected run must at least fall).
The verdict says both plainly, with the two loss ranges; a fix that did not help says so and
lowers the diagnosis's confidence, and a fix whose cell raised is withdrawn. Pure: no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nbgrad.diagnose.diagnosis import Diagnosis, Edit, TrialSet, Verification
from nbgrad.diagnose.fixes import describe
from nbgrad.diagnose.fixes.rates import NOTE as SWEEP_NOTE
from nbgrad.diagnose.outcome import loss_series
from nbgrad.numbers import fmt
from nbgrad.records import Finding, Run, Trial

PROBLEMS = ("error", "warning")
TRIAL_WORDS = {"helped": "helped", "partly": "helped in part", "did not help": "did not help",
               "raised": "raised an error", "stopped": "stopped early"}
UNHELPFUL_CONFIDENCE = 0.5  # a fix that did not help: the diagnosis is half as certain
# fixes that change what the loss measures (its function, its sign, the targets' scale, the
# weight of a penalty added to it, its input turned into log-probabilities, the axis it
# normalises, the positions it counts, a sum made a mean): the two runs' loss values are not
# compared, only whether the corrected loss falls
ANOTHER_LOSS = {"NBG409", "NBG711", "NBG803", "NBG806", "NBG808", "NBG809", "NBG811", "NBG812",
                "NBG813", "NBG852"}


def losses(run: Run, owner: str | None = None) -> list[float | None]:
    """The loss per step the verdicts compare: the named optimizer's (a GAN's generator, when
    the diagnosis is about it), else the first optimizer's (the only one, usually)."""
    series = loss_series(run)
    chosen = next((s for s in series if owner and s.owner == owner), series[0] if series else None)
    return list(chosen.values) if chosen is not None else []


def owner_of(run: Run, d: Diagnosis) -> str | None:
    """The optimizer a diagnosis names in its title ('opt_g' steps parameters ...), when the run
    has several: its loss is the one a fix should improve."""
    owners = {s.owner for s in loss_series(run) if s.owner}
    return next((o for o in owners if f"'{o}'" in d.title), None)


def grad_grid(run: Run) -> tuple[list[str], list[list[float | None]]]:
    """Layers, and each layer's gradient norm at each update: the heat map of a trial."""
    updates = run.steps or run.manual_steps
    layers = list(run.layers)
    grid = [[(u.layers[name].grad_norm if name in u.layers else None) for u in updates]
            for name in layers]
    return layers, grid


def trial_of(run: Run, diagnoses: Sequence[Diagnosis], analysis_error: str | None, *,
             label: str, changed: list[int], change: str, lr: float | None = None,
             owner: str | None = None) -> Trial:
    """What one trial run showed, kept small: the numbers a verdict and its views need."""
    layers, grid = grad_grid(run)
    return Trial(
        label=label, source=run.source, changed=changed, change=change,
        steps_requested=run.steps_requested,
        stopped_by=run.stopped_by, elapsed_s=run.elapsed_s, losses=losses(run, owner),
        error=run.error,
        findings=[Finding(d.code, d.slug, d.severity, d.title) for d in diagnoses
                  if d.severity in PROBLEMS],
        layers=layers, grad_norms=grid,
        restore_failed=list(run.restore.failed) if run.restore is not None else [],
        lr=lr, analysis_error=analysis_error)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _last(values: Sequence[float | None]) -> float | None:
    """The last known loss; inf when the run ended in NaN/Inf (worse than any number)."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return known[-1] if math.isfinite(known[-1]) else math.inf


def loss_range(values: Sequence[float | None]) -> str:
    """'2.30 -> 0.41' (first -> last known loss); 'no loss' when none was recorded."""
    known = [v for v in values if v is not None]
    if not known:
        return "no loss"
    return f"{fmt(known[0])} → {fmt(known[-1])}"


def falls(values: Sequence[float | None]) -> bool:
    """The loss ends finite and below where it started."""
    known = [v for v in values if v is not None]
    return len(known) >= 2 and math.isfinite(known[-1]) and known[-1] < known[0]


def improved(original: Sequence[float | None], corrected: Sequence[float | None],
             comparable: bool = True) -> bool | None:
    """Whether the corrected run ends lower than the cell's own; when the two are not comparable
    (the cell raised, or the fix changes what the loss measures), whether it falls at all. None
    when neither run has a loss."""
    mine, theirs = _last(corrected), _last(original)
    if mine is None:
        return None if theirs is None else False
    if theirs is None or not comparable:
        return falls(corrected)
    return mine < theirs


def better(a: Trial, b: Trial, problems: set[str]) -> bool:
    """Whether trial `a` trains better than `b`: it ran; fewer of the cell's problems remain; no
    more new ones; a lower last loss."""
    def key(t: Trial) -> tuple[int, int, int, float]:
        codes = {f.code for f in t.findings}
        return (0 if t.ran else 1, len(codes & problems), len(codes - problems), _progress(t))
    return key(a) < key(b)


def _progress(trial: Trial) -> float:
    """Where the loss ends, as a share of where it started (comparable across fixes that change
    the loss's scale); the last loss itself when the first is not a positive number."""
    last = _last(trial.losses)
    known = [v for v in trial.losses if v is not None]
    if last is None:
        return math.inf
    first = known[0]
    if math.isfinite(first) and first > 0 and math.isfinite(last):
        return last / first
    return last


def _steps(trial: Trial) -> str:
    n = trial.steps_requested
    return f"{n} step{'s' if n != 1 else ''}"


def judge(run: Run, problems: set[str], d: Diagnosis, trial: Trial, *,
          candidates: Sequence[Trial] = (), baseline: Trial | None = None) -> Verification:
    """The verification of `d`'s fix from its trial (a sweep's best) and the cell's own run
    (`baseline` when the cell had to be run again, else the check's own records)."""
    original = baseline.losses if baseline is not None else losses(run, owner_of(run, d))
    codes = {f.code for f in trial.findings}
    resolved = trial.ran and d.code not in codes
    raised = run.error is not None and baseline is None
    comparable = d.code not in ANOTHER_LOSS and not raised
    better_loss = improved(original, trial.losses, comparable) if trial.ran else False
    remaining = sorted(codes & problems)
    new = sorted(codes - problems)
    change = describe_trial(run, trial)
    if raised:
        assert run.error is not None
        before = f"your cell raised {run.error.type}" + (
            f" after {loss_range(original)}" if any(v is not None for v in original) else "")
    elif any(v is not None for v in original):
        before = f"it was {loss_range(original)}"
    else:
        before = "your cell had no loss"
    if not comparable and not raised:
        before += ", a loss of another kind, not compared"
    lower = "fall" if not comparable else "end lower"
    if not trial.ran:
        verdict = _not_ran(trial)
    elif resolved and better_loss:
        verdict = (f"Tried: {change}, the loss goes {loss_range(trial.losses)} in "
                   f"{_steps(trial)} ({before}), and the problem is gone.")
    elif resolved:
        verdict = (f"Tried: {change}, the problem is gone, but the loss did not {lower} in "
                   f"{_steps(trial)} ({loss_range(trial.losses)}; {before}): it may need more "
                   "steps.")
    elif better_loss:
        verdict = (f"Tried: {change}, the loss does {lower} ({loss_range(trial.losses)}; "
                   f"{before}), but {d.code} is still found: the cause may be elsewhere too.")
    else:
        verdict = (f"The fix did not help in {_steps(trial)}: the cause may be elsewhere, or it "
                   f"needs more steps ({change}: {loss_range(trial.losses)}; {before}).")
    if new and trial.ran:
        verdict = verdict.rstrip(".") + f"; it newly finds {', '.join(new)}."
    if baseline is not None:
        verdict += (" (Your objects had changed since the check, so your cell was run again "
                    "from their state now for this comparison.)")
    return Verification(trial=trial, original_losses=original, resolved=resolved,
                        improved=better_loss, verdict=verdict, remaining=remaining, new=new,
                        candidates=list(candidates), baseline=baseline,
                        note=SWEEP_NOTE if candidates else "")


def describe_trial(run: Run, trial: Trial) -> str:
    """'with line 11 changed', 'with lr=0.01 on line 5'."""
    return f"with {trial.change}" if trial.change else "with nothing changed"


def change_of(edits: Sequence[Edit], lr: float | None = None) -> str:
    """A trial's change in words, from its edits: 'line 10 changed', 'a line put before line 10',
    'lr=0.01 on line 5'."""
    if lr is not None and edits:
        where = f"on line {edits[0].line}" if edits[0].kind == "replace" else \
            "set at the top of the cell"
        return f"lr={lr:g} {where}"
    return describe(edits)


def _not_ran(trial: Trial) -> str:
    if trial.error is not None:
        where = f" at its line {trial.error.line}" if trial.error.line else ""  # of that cell
        message = trial.error.message.splitlines()[0] if trial.error.message else ""
        return (f"Tried: the corrected cell raised {trial.error.type}{where}: {message}. Your "
                "objects were restored; this fix is not offered as a cell.")
    if trial.analysis_error is not None:
        return f"Tried, but nbgrad could not analyse the corrected run: {trial.analysis_error}."
    if trial.stopped_by == "interrupt":
        return "The trial was interrupted (Ctrl-C) before its steps ran; your objects were restored."
    if trial.stopped_by == "timeout":
        return ("Tried: the corrected cell made no optimizer step within the timeout; it was "
                "stopped and your objects were restored.")
    return f"Tried: the corrected run stopped early ({trial.stopped_by})."


def best_rate(problems: set[str], candidates: Sequence[Trial]) -> int:
    """The index of the candidate rate that trains best (see `better`)."""
    best = 0
    for i, trial in enumerate(candidates):
        if better(trial, candidates[best], problems):
            best = i
    return best


def settle(d: Diagnosis, v: Verification) -> None:
    """Attach the verification; a fix that did not help makes the diagnosis less certain, and a
    corrected cell that raised is no longer offered as code."""
    d.verification = v
    if not (v.resolved and v.improved):
        d.confidence = round(d.confidence * UNHELPFUL_CONFIDENCE, 3)
    if not v.trial.ran:
        d.edits = []
        d.fix_code = None


def summarize(diagnoses: Sequence[Diagnosis], problems: set[str], together: Trial | None, *,
              left_out: Sequence[str], tried: int, planned: int, stopped: str,
              elapsed_s: float) -> TrialSet:
    """Each fix alone, then all together: which trains best, in one line."""
    alone = [(d.code, d.verification.trial) for d in diagnoses if d.verification is not None]
    options = alone + ([("all fixes", together)] if together is not None else [])
    if not options:
        verdict = "No fix was tried" + (f": {stopped}." if stopped else ".")
        return TrialSet(verdict=verdict, best="", together=together, tried=tried,
                        planned=planned, stopped=stopped, elapsed_s=elapsed_s)
    best_label, best = options[0]
    for label, trial in options[1:]:
        if better(trial, best, problems):
            best_label, best = label, trial
    left = sorted({f.code for f in best.findings} & problems)
    if not best.ran:
        verdict = "No fix ran without an error."
    elif len(options) == 1:
        (d,) = [d for d in diagnoses if d.verification is not None]
        v = d.verification
        assert v is not None
        verdict = (f"1 fix tried: the fix of {d.code} {TRIAL_WORDS[v.status]} ({d.code} "
                   f"{'gone' if v.resolved else 'still found'}; loss {loss_range(best.losses)} in "
                   f"{_steps(best)}, your cell's {loss_range(v.original_losses)}).")
    else:
        def name(label: str) -> str:
            return "all fixes together" if label == "all fixes" else f"the fix of {label} alone"
        state = "no problem left" if not left else f"{', '.join(left)} still found"
        verdict = (f"{len(alone)} fix{'es' if len(alone) != 1 else ''} tried"
                   + (" alone and all together" if together is not None else "")
                   + f": {name(best_label)} trains best ({state}; loss {loss_range(best.losses)} "
                   f"in {_steps(best)}).")
        lower = [(label, t) for label, t in options if t.ran and label != best_label
                 and _progress(t) < _progress(best)]
        if lower:
            label, t = min(lower, key=lambda pair: _progress(pair[1]))
            still = sorted({f.code for f in t.findings} & problems)
            verdict += (f" {name(label).capitalize()} ends lower ({loss_range(t.losses)}), but "
                        f"{', '.join(still) or 'a problem'} is still found there.")
    if left_out:
        verdict += f" Not combined (they change the same lines): {', '.join(left_out)}."
    if stopped:
        verdict += f" Stopped early: {stopped}."
    return TrialSet(verdict=verdict, best=best_label, together=together, tried=tried,
                    planned=planned, stopped=stopped, elapsed_s=elapsed_s)
