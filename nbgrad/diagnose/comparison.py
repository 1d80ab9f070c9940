"""Before and after a fix, decided once: what the student saw (symptom), what nbgrad found
(cause), what was changed (fix), and what the second run shows (result), with both loss curves
and the first layer's gradient per step, for the before/after card a teacher projects.

Two sources: two reports (`nbgrad.compare(before, after)`: the cell, then the fixed cell), or a
report whose fix was tried (`--verify`, "Try the fix": the tried fix is the after). Pure: reads
records and diagnoses, never torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nbgrad.diagnose import facts
from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.diagnose.verification import falls, improved, loss_range, losses
from nbgrad.records import Run, Trial

if TYPE_CHECKING:
    from nbgrad.report import Report


@dataclass
class Comparison:
    symptom: list[str]  # what the first run showed, no cause named
    cause: str  # the diagnosis's title, at its line
    fix: str  # the change, in words
    fix_code: str | None
    result: str  # one line: the second run's loss and whether the problem is gone
    resolved: bool
    improved: bool | None
    before_losses: list[float | None]
    after_losses: list[float | None]
    layer: str = ""  # the first layer with weights, as the user writes it
    before_grad: list[float | None] = field(default_factory=list)  # its gradient norm per step
    after_grad: list[float | None] = field(default_factory=list)
    before_label: str = "before"
    after_label: str = "after"
    code: str = ""

    @property
    def fixed(self) -> bool:
        """The verdict the card shows: the problem is gone and the loss did not get worse."""
        return self.resolved and self.improved is not False


def _first_layer(run: Run) -> str | None:
    layers = facts.weight_layers(run)
    return layers[0].layer if layers else next(iter(run.layers), None)


def _grad(run: Run, layer: str | None) -> list[float | None]:
    if layer is None:
        return []
    return [s.layers[layer].grad_norm if layer in s.layers else None
            for s in (run.steps or run.manual_steps)]


def _trial_grad(trial: Trial, layer: str | None) -> list[float | None]:
    if layer is None or layer not in trial.layers:
        return []
    return list(trial.grad_norms[trial.layers.index(layer)])


def _cause(d: Diagnosis) -> str:
    return d.title + (f" (line {d.line})" if d.line else "")


def _pick(report: Report, code: str | None) -> Diagnosis | None:
    found = [d for d in report.problems if code is None or d.code == code]
    return found[0] if found else None


def _result(after: list[float | None], before: list[float | None], resolved: bool,
            better: bool | None, raised: str | None) -> str:
    if raised:
        return f"the corrected cell raised {raised}"
    gone = "the problem is gone" if resolved else "the problem is still there"
    trend = "" if better is None else ("lower than before; " if better else "not lower; ")
    return f"loss {loss_range(after)} (it was {loss_range(before)}): {trend}{gone}"


def between(before: Report, after: Report, code: str | None = None) -> Comparison:
    """The cell's report and the fixed cell's: the first problem of `before` (or `code`)."""
    d = _pick(before, code)
    first, again = before.run, after.run
    layer = _first_layer(first)
    b, a = losses(first), losses(again)
    if d is None:
        return Comparison(symptom=before.outcome.symptoms[:2], cause="no problem was found",
                          fix="", fix_code=None, result=_result(a, b, True, improved(b, a), None),
                          resolved=True, improved=improved(b, a), before_losses=b,
                          after_losses=a)
    resolved = d.code not in {x.code for x in after.problems}
    raised = f"{again.error.type}: {again.error.message}" if again.error and not again.steps \
        else None
    better = improved(b, a) if b and a else (falls(a) if a else None)
    return Comparison(
        symptom=before.outcome.symptoms[:2], cause=_cause(d), fix=d.fix, fix_code=d.fix_code,
        result=_result(a, b, resolved, better, raised), resolved=resolved, improved=better,
        before_losses=b, after_losses=a, layer=first.written.get(layer, layer) if layer else "",
        before_grad=_grad(first, layer), after_grad=_grad(again, layer), code=d.code)


def tried(report: Report, code: str | None = None) -> Comparison | None:
    """The first problem of `report` whose fix was tried, as a before/after (None: none was)."""
    d = next((d for d in report.problems if d.verification is not None
              and (code is None or d.code == code)), None)
    if d is None or d.verification is None:
        return None
    v = d.verification
    run = report.run
    layer = _first_layer(run)
    before_grad = _trial_grad(v.baseline, layer) if v.baseline is not None else _grad(run, layer)
    return Comparison(
        symptom=report.outcome.symptoms[:2], cause=_cause(d), fix=d.fix,
        fix_code=d.fix_code, result=v.verdict, resolved=v.resolved, improved=v.improved,
        before_losses=list(v.original_losses), after_losses=list(v.trial.losses),
        layer=run.written.get(layer, layer) if layer else "", before_grad=before_grad,
        after_grad=_trial_grad(v.trial, layer),
        before_label="your cell", after_label="with the fix", code=d.code)
