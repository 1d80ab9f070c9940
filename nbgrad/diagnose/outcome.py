"""What happened in a run, decided once when its report is built: the verdict, the updates, what
did not move and why, the loss of each optimizer.

Every renderer (text, HTML, figures, widget) formats the records and this outcome and decides
nothing of its own, so no two views of one run can disagree on what happened.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Literal

from nbgrad.diagnose import facts
from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.numbers import fmt
from nbgrad.records import RestoreInfo, Run, StepRecord

Status = Literal["failed", "error", "warning", "nothing", "clean"]

STOP_WORDS = {
    "steps": "stopped after the requested steps",
    "finished": "the cell finished",
    "timeout": "stopped: no optimizer step within the timeout",
    "error": "the cell raised an exception",
    "interrupt": "interrupted (KeyboardInterrupt)",
    "skipped": "stopped: the GradScaler kept skipping every optimizer step",
    "rank": "stopped: another rank of the job ended first",
}
ANALYSIS_FAILED_HELP = (
    "This is a bug in nbgrad, not in your cell; the 'state' line says what happened to your "
    "objects. To go on, run the cell without %%gradcheck; to help, report the reason above, with "
    "the cell, at the nbgrad issue tracker.")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class Update:
    """One change of the parameters: an optimizer's step, or a manual update (`p -= lr * g`)."""

    kind: Literal["step", "manual update"]
    record: StepRecord
    optimizer: str  # the optimizer's name; "" for a manual update

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def label(self) -> str:
        """'step 3' or 'manual update 3', as every view names it."""
        return f"{self.kind} {self.index}"


@dataclass
class LossSeries:
    """The loss of each update of one optimizer (or of the manual updates)."""

    owner: str  # the optimizer's name; "" when it is the only one (or manual updates)
    steps: list[int]  # the updates' indices
    values: list[float | None]  # facts.step_loss of each

    def text(self) -> str:
        known = [(s, v) for s, v in zip(self.steps, self.values) if v is not None]
        if not known:
            return ""
        (s0, v0), (s1, v1) = known[0], known[-1]
        whose = f"loss of '{self.owner}'" if self.owner else "loss"
        return f"{whose}: {fmt(v0)} at step {s0} -> {fmt(v1)} at step {s1}"


@dataclass
class Outcome:
    status: Status  # the worst thing found; the icon and colour of the verdict
    headline: str  # the verdict in a few words (the dashboard's first line)
    verdict: str  # the headline and what it is about (text, HTML, repr)
    summary: list[str]  # the run in a few lines, under the verdict in every view
    updates: list[Update]  # optimizer steps, or the manual updates when no optimizer stepped
    unmoved: dict[str, str] = field(default_factory=dict)  # param -> why no update moved it
    losses: list[LossSeries] = field(default_factory=list)
    no_step_reason: str | None = None  # why no update was seen, when none was
    problems: int = 0
    notes: int = 0


def decide(run: Run, diagnoses: list[Diagnosis], analysis_error: str | None = None) -> Outcome:
    """The outcome of one run; pure, so a report loaded from JSON decides the same again."""
    problems = [d for d in diagnoses if d.severity in ("error", "warning")]
    notes = len(diagnoses) - len(problems)
    updates = _updates(run)
    reason = None if updates or analysis_error else no_step_reason(run)
    status: Status
    if analysis_error:
        status = "failed"
        headline = "nbgrad could not analyse this run"
        verdict = f"{headline}: {analysis_error}"
    elif problems:
        status = "error" if problems[0].severity == "error" else "warning"
        headline = f"{plural(len(problems), 'problem')} found"
        titles = "; ".join(d.title + (f" (line {d.line})" if d.line else "") for d in problems[:3])
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        verdict = f"{headline}: {titles}{more}"
    elif not updates:
        status = "nothing"
        headline = "No optimizer step was seen"
        verdict = f"{headline}: {reason}"
    elif run.error is not None:
        status = "nothing"
        headline = (f"The cell raised {run.error.type} after {plural(len(updates), updates[0].kind)}"
                    "; no problems found in them")
        verdict = headline
    elif not run.steps:
        status = "clean"
        headline = f"No optimizer was used: {plural(len(updates), 'manual update')} seen"
        verdict = f"{headline} (parameters changed in place between backward() calls); no " \
                  "problems found"
    else:
        status = "clean"
        skipped = f" ({len(run.skipped_steps)} more skipped by GradScaler)" if run.skipped_steps \
            else ""
        headline = verdict = f"No problems found in {plural(len(updates), 'step')}{skipped}"
    losses = loss_series(run)
    summary = ([ANALYSIS_FAILED_HELP] if analysis_error else []) + _summary(run, updates, losses)
    return Outcome(status=status, headline=headline, verdict=verdict, summary=summary,
                   updates=updates, unmoved=unmoved_reasons(run, updates), losses=losses,
                   no_step_reason=reason, problems=len(problems), notes=notes)


def _updates(run: Run) -> list[Update]:
    if run.steps:
        return [Update("step", s, run.optimizers[s.optimizer].name if 0 <= s.optimizer
                       < len(run.optimizers) else "") for s in run.steps]
    return [Update("manual update", s, "") for s in run.manual_steps]


def loss_series(run: Run) -> list[LossSeries]:
    """Each optimizer's losses on its own: a GAN's D and G are never one series."""
    if not run.steps:
        values = facts.loss_series(run, -1)
        return [LossSeries("", [s.index for s in run.manual_steps], values)] \
            if any(v is not None for v in values) else []
    owners = [oi for oi in range(len(run.optimizers)) if facts.steps_of(run, oi)]
    out = []
    for oi in owners:
        values = facts.loss_series(run, oi)
        if any(v is not None for v in values):
            name = run.optimizers[oi].name if len(owners) > 1 else ""
            out.append(LossSeries(name, [s.index for s in facts.steps_of(run, oi)], values))
    return out


def only_definitions(source: str) -> bool:
    """Whether a cell's top level only defines and imports (it ran, but trained nothing)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return bool(body) and all(isinstance(node, kinds) for node in body)


def no_step_reason(run: Run) -> str:
    """What was seen instead of an optimizer step."""
    backwards = run.backward_calls
    if run.error is not None:
        return f"the cell raised {run.error.type} before the first step."
    if not run.source.strip():
        return "the cell is empty; put your training loop under %%gradcheck."
    if not run.layers and only_definitions(run.source):
        return ("the cell only defines functions or classes and calls none of them; "
                "call your training function in the cell, e.g. train().")
    if not run.layers:
        return "no module ran a forward pass and backward() was never called."
    if backwards == 0:
        return (f"{plural(len(run.layers), 'layer')} ran forward, but backward() was never "
                "called.")
    return f"backward() was called {plural(backwards, 'time')}, but no optimizer.step()."


def unmoved_reasons(run: Run, updates: list[Update]) -> dict[str, str]:
    """Parameter -> why no recorded update moved it (only the parameters that did not move)."""
    out: dict[str, str] = {}
    if not updates:
        return out
    for name, info in run.params.items():
        stats = [u.record.params[name] for u in updates if name in u.record.params]
        if info.numel == 0 or any((s.update_norm or 0) > 0 for s in stats):
            continue  # an empty placeholder has nothing to move
        grads = [s.grad_norm for s in stats]
        if not info.requires_grad:
            why = "frozen (requires_grad=False)"
        elif not run.steps:
            why = "not changed by the manual updates"
        elif info.optimizer is None:
            why = "not in any optimizer"
        elif all(g is None for g in grads):
            why = "never got a gradient"
        elif all((g or 0) == 0 for g in grads):
            why = "its gradient was always zero"
        else:
            groups = run.optimizers[info.optimizer].after.groups
            group = groups[info.param_group or 0] if groups else {}
            why = "learning rate is 0" if group.get("lr") == 0 else "the step left it unchanged"
        out[name] = why
    return out


def _counted(run: Run, updates: list[Update]) -> str:
    """How many updates were recorded against how many were asked for, and why they differ."""
    if not run.steps and run.manual_steps:
        return (f"{plural(len(updates), 'manual update')} recorded of {run.steps_requested} "
                "requested (no optimizer was used)")
    stepping = [o for o in run.optimizers if o.steps]
    if len(stepping) > 1:
        each = ", ".join(f"'{o.name}' {o.steps}" for o in stepping)
        return (f"{plural(len(run.steps), 'optimizer step')} recorded, {run.steps_requested} "
                f"requested of each of the {len(stepping)} optimizers ({each})")
    return f"{plural(len(run.steps), 'optimizer step')} recorded of {run.steps_requested} requested"


def _summary(run: Run, updates: list[Update], losses: list[LossSeries]) -> list[str]:
    opts = ", ".join(f"{o.type} '{o.name}' ({plural(o.steps, 'step')}"
                     + (f", {o.skipped_steps} skipped" if o.skipped_steps else "") + ")"
                     for o in run.optimizers)
    lines = [
        f"{_counted(run, updates)} ({STOP_WORDS[run.stopped_by]}), {run.elapsed_s:.2f} s",
        f"{plural(len(run.layers), 'layer')}, {plural(len(run.params), 'parameter')}, "
        f"{plural(run.backward_calls, 'backward call')}; optimizers: {opts or 'none'}",
    ]
    loss_text = "; ".join(t for series in losses if (t := series.text()))
    if loss_text:
        lines.append(loss_text)
    if run.manual_steps and not run.steps:
        lines.append(f"no optimizer was used: the parameters were changed in place between "
                     f"backward() calls {plural(len(run.manual_steps), 'time')} (a manual update "
                     "such as `p -= lr * p.grad`); nbgrad measured each change")
    if run.skipped_steps:
        skips = ", ".join(f"after step {s.after_step} (scale {fmt(s.grad_scale)})"
                          for s in run.skipped_steps[:5])
        more = ", ..." if len(run.skipped_steps) > 5 else ""
        lines.append(f"GradScaler skipped {plural(len(run.skipped_steps), 'step')} whose gradients "
                     f"had inf/NaN: {skips}{more}")
    scales = [s.grad_scale for s in run.steps if s.grad_scale is not None]
    if scales:
        lines.append(f"GradScaler loss scale: {fmt(scales[0])} at the first step -> "
                     f"{fmt(scales[-1])} at the last (losses are shown unscaled)")
    lines += [f"not measured: {note}" for note in run.not_measured]
    if run.error is not None:
        where = f" at line {run.error.line}" if run.error.line else ""
        lines.append(f"error{where}: {run.error.type}: {run.error.message}")
    lines += [line for line in (restore_line(run.restore), files_line(run.restore)) if line]
    return lines


def size(n: int) -> str:
    """Bytes as a person reads them."""
    if n >= 1e9:
        return f"{n / 1e9:.3g} GB"
    if n >= 1e6:
        return f"{n / 1e6:.3g} MB"
    return f"{n / 1e3:.3g} kB" if n >= 1e3 else f"{n} B"


def restore_line(info: RestoreInfo | None) -> str:
    """What became of the user's objects: restored (what, how big, how long) or kept (why)."""
    if info is None:
        return ""
    if info.mode == "kept":
        return f"state kept: {info.reason}"
    restored = info.objects + [f"{n} (copied when the steps first used it)"
                               for n in info.copied_at_first_use]
    what = ", ".join(restored[:6]) + (f" and {len(restored) - 6} more"
                                      if len(restored) > 6 else "")
    if restored:
        objects = (f"restored {what} ({size(info.bytes)} copied in {info.snapshot_s * 1e3:.0f} ms,"
                   f" put back in {info.restore_s * 1e3:.0f} ms)")
    else:
        objects = "no object restored" if info.failed else \
            "no model or optimizer existed before the cell"
    rng = f"; RNG restored ({', '.join(info.rng)})" if info.rng else ""
    line = (f"state: {objects}{rng}; names the cell (re)binds and objects it creates keep "
            "their new values")
    if info.failed:
        line += f". NOT restored: {'; '.join(info.failed)}"
    return line


def files_line(info: RestoreInfo | None) -> str:
    """Files the cell saved during the check: existing ones left as they were, new ones kept."""
    if info is None or not (info.files_redirected or info.files_written):
        return ""
    parts = []
    moved = info.files_redirected
    if moved:
        where = moved[0].written_to if len(moved) == 1 else os.path.dirname(moved[0].written_to)
        names = _file_names([f.path for f in moved])
        parts.append(f"saves over {plural(len(moved), 'existing file')} went to {where} instead "
                     f"({names} {'is as it was' if len(moved) == 1 else 'are as they were'})")
    if info.files_written:
        parts.append(f"new files kept: {_file_names(info.files_written)}")
    return "files: " + "; ".join(parts)


def _file_names(paths: list[str], limit: int = 4) -> str:
    names = ", ".join(os.path.basename(p) for p in paths[:limit])
    return names + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
