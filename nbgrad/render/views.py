"""What every rendering shows, laid out once: tables of strings from the records and the outcome.

Text, HTML and the widget dashboard all show these same tables, with the columns of
`render/columns.py`, so they never disagree. Nothing here decides what happened: that is the
report's outcome (`nbgrad.diagnose.outcome`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbgrad.numbers import fmt
from nbgrad.records import OptimizerRecord, Run
from nbgrad.render import columns as cols
from nbgrad.render.columns import NO_GRAD, Column
from nbgrad.render.style import SEVERITY_ICON, SEVERITY_WORD, TRIAL_ICON, TRIAL_WORD

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.diagnose.outcome import Update
    from nbgrad.records import Trial
    from nbgrad.report import Report

MAX_STEP_COLUMNS = 10  # the default --steps fits whole; longer runs show an even spread


def short_name(name: str, width: int = 32) -> str:
    """A long dotted name cut in the middle, keeping its start and its (most specific) end."""
    if len(name) <= width:
        return name
    head = max(width // 3, 1)
    return name[:head] + "…" + name[-(width - head - 1):]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    title: str = ""
    notes: list[str] = field(default_factory=list)  # said under the table (what it leaves out)
    numeric: list[bool] = field(default_factory=list)  # per column: numbers, right-aligned

    @classmethod
    def of(cls, columns: list[Column], rows: list[Any], title: str = "") -> Table:
        return cls([c.title for c in columns], [[c.text(r) for c in columns] for r in rows],
                   title=title, numeric=[c.numeric for c in columns])


@dataclass
class DiagnosisView:
    """A diagnosis as renderers show it: severity as icon and word, the cell line spelled out."""

    severity: str
    icon: str
    word: str
    code: str
    slug: str
    title: str
    where: str  # "line 14: loss.backward()", or "" when the line is unknown
    evidence: list[str]
    why: str
    fix: str
    fix_code: str | None


def diagnosis_view(d: Diagnosis, run: Run) -> DiagnosisView:
    where = ""
    if d.line:
        text = run.cell_line(d.line)
        where = f"line {d.line}: {text}" if text else f"line {d.line}"
    return DiagnosisView(d.severity, SEVERITY_ICON.get(d.severity, "•"),
                         SEVERITY_WORD.get(d.severity, d.severity), d.code, d.slug, d.title, where,
                         [e.text for e in d.evidence], d.why, d.fix, d.fix_code)


def step_columns(count: int, limit: int = MAX_STEP_COLUMNS) -> list[int]:
    """Which updates get a column: all when few, else evenly spread including first and last."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def layer_grad_table(report: Report) -> Table:
    """Gradient norm of each layer at each update shown; 'no grad' where `.grad` was None."""
    run, updates = report.run, report.outcome.updates
    shown = step_columns(len(updates))
    rows = []
    for layer in run.layers.values():
        cells = []
        for i in shown:
            stats = updates[i].record.layers.get(layer.name)
            cells.append("" if stats is None else fmt(stats.grad_norm, NO_GRAD))
        rows.append([layer.name, layer.type, *cells])
    several = len({u.optimizer for u in updates}) > 1
    header = [f"{updates[i].label}" + (f" ({updates[i].optimizer})" if several else "")
              for i in shown]
    notes = []
    if len(shown) < len(updates):
        notes.append(f"{len(shown)} of {len(updates)} {updates[0].kind}s shown: "
                     f"{', '.join(str(updates[i].index) for i in shown)}; the others are in the "
                     "dashboard's heat map and in the JSON report")
    return Table(["layer", "type", *header], rows, title="Gradient norm per layer", notes=notes,
                 numeric=[False, False, *[True] * len(shown)])


@dataclass
class LayerRow:
    """One layer at one update, as numbers (None: no gradient / not stepped), to sort and plot."""

    name: str
    type: str
    grad_norm: float | None
    param_norm: float
    update_norm: float | None
    update_to_param_ratio: float | None
    grad_zero_fraction: float | None


def layer_rows(report: Report, update: int = -1) -> list[LayerRow]:
    """Every layer that has stats at one update (negative counts from the end), in model order."""
    rec = report.outcome.updates[update].record
    rows = []
    for layer in report.run.layers.values():
        s = rec.layers.get(layer.name)
        if s is not None:
            rows.append(LayerRow(layer.name, layer.type, s.grad_norm, s.param_norm, s.update_norm,
                                 s.update_to_param_ratio, s.grad_zero_fraction))
    return rows


def layer_step_table(report: Report, update: int = -1) -> Table:
    """Every measured quantity of each layer at one update."""
    chosen = report.outcome.updates[update]
    return Table.of(cols.LAYER, layer_rows(report, update), title=f"Layers at {chosen.label}")


@dataclass
class GradGrid:
    """Gradient norm of every layer at every update; None where the layer had no gradient."""

    layers: list[str]
    steps: list[int]
    values: list[list[float | None]]  # values[layer][update]


def grad_grid(report: Report) -> GradGrid:
    updates = report.outcome.updates
    values = []
    for name in report.run.layers:
        row: list[float | None] = []
        for u in updates:
            stats = u.record.layers.get(name)
            row.append(None if stats is None else stats.grad_norm)
        values.append(row)
    return GradGrid(list(report.run.layers), [u.index for u in updates], values)


def loss_points(updates: list[Update]) -> list[tuple[int, int, float | None]]:
    """(update, backward call within it, loss): every value `backward()` was called on."""
    return [(u.index, k, value) for u in updates for k, value in enumerate(u.record.losses)]


def _hyper_value(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_hyper_value(v) for v in value) + ")"
    return fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else str(value)


def skipped_table(run: Run) -> Table:
    """GradScaler steps that did not reach the optimizer, and the gradients that made it skip."""
    rows = []
    for s in run.skipped_steps:
        loss = fmt(s.losses[0]) if s.losses else "—"
        bad = ", ".join(s.nonfinite_params[:4]) + (", ..." if len(s.nonfinite_params) > 4 else "")
        rows.append([str(s.after_step), run.optimizers[s.optimizer].name, fmt(s.grad_scale), loss,
                     bad or "—"])
    return Table(["after step", "optimizer", "loss scale", "loss", "inf/NaN gradient in"], rows,
                 title="Steps skipped by the GradScaler",
                 numeric=[True, False, True, True, False])


def hyperparameter_table(opt: OptimizerRecord) -> Table:
    rows = []
    for gi, (before, after) in enumerate(zip(opt.before.groups, opt.after.groups)):
        for key in sorted(set(before) | set(after)):
            b, a = _hyper_value(before.get(key)), _hyper_value(after.get(key))
            if a == b and (before.get(key) is None or before.get(key) is False):
                continue  # implementation switches left at their defaults (foreach, fused, ...)
            rows.append([str(gi), key, b, a, "changed" if a != b else ""])
    return Table(["group", "hyperparameter", "before", "after", "change"], rows,
                 title=f"{opt.type} '{opt.name}': hyperparameters")


def _buffer_total(values: list[float]) -> str:
    """A state buffer over the parameters that hold it: a counter (Adam's `step`: the same whole
    number on every parameter) reads as its value; a tensor buffer as the norm over all."""
    if not values:
        return "absent"
    count = f"{len(values)} param{'s' if len(values) != 1 else ''}"
    if all(math.isfinite(v) and float(v).is_integer() for v in values) and len(set(values)) == 1:
        return f"{fmt(values[0])} on {count}"
    return f"{count}, norm {fmt(math.sqrt(sum(v * v for v in values)))}"


def state_table(opt: OptimizerRecord) -> Table:
    """Per state buffer: on how many parameters it exists, and its value or norm, before -> after."""
    def per_buffer(buffers: dict[str, dict[str, float]]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for per_param in buffers.values():
            for name, value in per_param.items():
                out.setdefault(name, []).append(value)
        return out

    before, after = per_buffer(opt.before.buffers), per_buffer(opt.after.buffers)
    rows = [[name, _buffer_total(before.get(name, [])), _buffer_total(after.get(name, [])),
             "created" if name not in before and name in after else ""]
            for name in sorted(set(before) | set(after))]
    return Table(["state buffer", "before", "after", "change"], rows,
                 title=f"{opt.type} '{opt.name}': state")


def unmoved_table(report: Report) -> Table:
    """Parameters that no recorded update moved, and why: the first thing to look at."""
    from nbgrad.render.moves import param_moves

    rows = [m for m in param_moves(report) if m.why_unmoved]
    return Table.of(cols.UNMOVED, rows, title="Parameters that did not move")


# -- fixes tried (nbgrad/verify.py, decided in nbgrad/diagnose/verification.py) ------------------
@dataclass
class VerificationView:
    """A tried fix as every view shows it: the verdict with its icon, the two loss ranges."""

    icon: str
    word: str
    verdict: str
    losses: str  # "your cell 2.928 → 37.48; corrected 2.928 → 2.483 (10 steps)"
    source: str  # the corrected cell's code, as it ran
    note: str


def verification_view(d: Diagnosis) -> VerificationView | None:
    from nbgrad.diagnose.verification import loss_range

    v = d.verification
    if v is None:
        return None
    mine = "your cell run again" if v.baseline is not None else "your cell"
    corrected = f"lr={v.trial.lr:g}" if v.trial.lr is not None else "corrected"
    steps = v.trial.steps_requested
    losses = (f"loss per step: {mine} {loss_range(v.original_losses)}; {corrected} "
              f"{loss_range(v.trial.losses)} ({steps} step{'s' if steps != 1 else ''})")
    return VerificationView(TRIAL_ICON[v.status], TRIAL_WORD[v.status], v.verdict, losses,
                            v.trial.source, v.note)


@dataclass
class TrialRow:
    fix: str
    change: str
    loss: str
    found: str
    result: str


def _found(trial: Trial) -> str:
    return ", ".join(f.code for f in trial.findings) or "none"


def trials_table(report: Report) -> Table:
    """Each fix tried, alone, and all of them together: what changed, the loss, what is left."""
    from nbgrad.diagnose.verification import describe_trial, loss_range

    rows = []
    for d in report.diagnoses:
        v = d.verification
        if v is None:
            continue
        rows.append(TrialRow(d.code, describe_trial(report.run, v.trial).removeprefix("with "),
                             loss_range(v.trial.losses), _found(v.trial), TRIAL_WORD[v.status]))
    summary = report.verification
    if summary is not None and summary.together is not None:
        t = summary.together
        rows.append(TrialRow("all fixes", describe_trial(report.run, t).removeprefix("with "),
                             loss_range(t.losses), _found(t),
                             "ran" if t.ran else "raised an error"))
    if not rows:
        return Table.of(cols.TRIALS, [], title="Fixes tried")
    table = Table.of(cols.TRIALS, rows, title="Fixes tried")
    mine = ", ".join(f"{d.code} {loss_range(d.verification.original_losses)}"
                     for d in report.diagnoses if d.verification is not None)
    table.notes.append(f"your cell's loss, for comparison: {mine}")
    if summary is not None:
        table.notes.append(summary.verdict)
    return table


@dataclass
class RateRow:
    lr: float | None
    loss: str
    last: float | None
    found: str
    chosen: str


def rates_table(d: Diagnosis) -> Table:
    """A learning-rate sweep: each rate tried, its loss and what it still shows; the chosen one."""
    from nbgrad.diagnose.verification import loss_range

    v = d.verification
    if v is None or not v.candidates:
        return Table.of(cols.RATES, [], title=f"Learning rates tried for {d.code}")
    rows = [RateRow(t.lr, loss_range(t.losses),
                    next((x for x in reversed(t.losses) if x is not None), None), _found(t),
                    "✔ chosen" if t == v.trial else "") for t in v.candidates]
    table = Table.of(cols.RATES, rows, title=f"Learning rates tried for {d.code}")
    if v.note:
        table.notes.append(v.note)
    return table


def verified(report: Report) -> list[Diagnosis]:
    """The diagnoses whose fix was tried, in the report's order."""
    return [d for d in report.diagnoses if d.verification is not None]
