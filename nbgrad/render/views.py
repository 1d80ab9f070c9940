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
from nbgrad.records import LayerStats, OptimizerRecord, Run
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


HIDDEN = ("the cause and the fix are hidden (an exercise): look at the symptoms, the loss and the "
          "gradients; nbgrad.reveal() shows the answer")


def hints(d: Diagnosis, run: Run) -> list[str]:
    """An exercise's hints for one problem, from vague to nearly the answer: what it is about,
    where to look, the measured numbers."""
    from nbgrad.diagnose.catalogue import family

    out = [f"It is about {family(d.code).about}."]
    if d.line:
        text = run.cell_line(d.line).strip()
        out.append(f"Look at line {d.line}" + (f": `{text}`" if text else "") + ".")
    else:
        out.append("It is not on one line of this cell: look at how the objects were built.")
    numbers = [e.text for e in d.evidence[:2]]
    if numbers:
        out.append("The numbers: " + "; ".join(numbers) + ".")
    return out


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
        rows.append([written(run, layer.name), layer.type, *cells])
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
    grad_zero_at: str | None = None  # the earlier update it was measured at, if not this one


def layer_rows(report: Report, update: int = -1) -> list[LayerRow]:
    """Every layer that has stats at one update (negative counts from the end), in model order."""
    updates = report.outcome.updates
    position = update % len(updates)
    rec = updates[position].record
    rows = []
    for layer in report.run.layers.values():
        s = rec.layers.get(layer.name)
        if s is not None:
            zero, at = _last_zero_fraction(updates[:position + 1], layer.name, s)
            rows.append(LayerRow(written(report.run, layer.name), layer.type, s.grad_norm,
                                 s.param_norm, s.update_norm, s.update_to_param_ratio, zero, at))
    return rows


def _last_zero_fraction(updates: list[Update], layer: str, now: LayerStats
                        ) -> tuple[float | None, str | None]:
    """A layer's zero fraction at the last update of `updates`, or, when that update fell outside
    the probe's windows (with two optimizers the last one often does), the value of the last
    window that measured it and that update's label. A layer without a gradient has none."""
    if now.grad_zero_fraction is not None or now.grad_norm is None:
        return now.grad_zero_fraction, None
    for earlier in reversed(updates[:-1]):
        s = earlier.record.layers.get(layer)
        if s is not None and s.grad_zero_fraction is not None:
            return s.grad_zero_fraction, earlier.label
    return None, None


def layer_step_table(report: Report, update: int = -1) -> Table:
    """Every measured quantity of each layer at one update; numbers outside their healthy range
    are said in words under it."""
    chosen = report.outcome.updates[update]
    rows = layer_rows(report, update)
    table = Table.of(cols.LAYER, rows, title=f"Layers at {chosen.label}")
    earlier = sorted({r.grad_zero_at for r in rows if r.grad_zero_at})
    if earlier:
        table.notes.append(f"zero grad frac is counted only in the probe's windows; {chosen.label} "
                           f"was outside them, so it shows the value at {', '.join(earlier)}")
    table.notes += readings(cols.LAYER, rows, report)
    return table


def readings(columns: list[Column], rows: list[Any], report: Report, limit: int = 3) -> list[str]:
    """Numbers of a table outside their healthy range, in words (glossary.reading), at most
    `limit`, each column once: the first thing a student should look at."""
    from nbgrad.diagnose.glossary import reading

    out: list[str] = []
    for column in columns:
        if not column.numeric:
            continue
        for row in rows:
            value = getattr(row, column.key, None)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            said = reading(column.title, value, getattr(row, "name", ""))
            if said:
                out.append(said)
                break
    return out[:limit]


def written(run: Run, name: str) -> str:
    """A layer or parameter as the user wrote it (`model[0]`), when the records know it."""
    return run.written.get(name, name)


def legend(tables: list[Table]) -> list[str]:
    """One line per column the tables show: what it means and, where one exists, a healthy
    value with its source (nbgrad.diagnose.glossary)."""
    from nbgrad.diagnose.glossary import legend as terms

    titles = [h for t in tables if t.rows for h in t.header]
    words = [cell for t in tables for row in t.rows for cell in row]
    return [t.line() for t in terms(titles, words)]


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


BASIC_SETTINGS = ("lr",)  # shown even when unchanged: the one setting every student sets


def hyperparameter_table(opt: OptimizerRecord, advanced: bool = False) -> Table:
    """The settings that changed during the steps and the learning rate; with `advanced`, the
    others (unchanged momentum, betas, ...), which a beginner need not read."""
    rows = []
    for gi, (before, after) in enumerate(zip(opt.before.groups, opt.after.groups)):
        for key in sorted(set(before) | set(after)):
            b, a = _hyper_value(before.get(key)), _hyper_value(after.get(key))
            if a == b and (before.get(key) is None or before.get(key) is False):
                continue  # implementation switches left at their defaults (foreach, fused, ...)
            basic = a != b or key in BASIC_SETTINGS
            if basic != advanced:
                rows.append([str(gi), key, b, a, "changed" if a != b else ""])
    title = f"{opt.type} '{opt.name}': " + ("other settings (unchanged)" if advanced
                                           else "hyperparameters")
    return Table(["group", "hyperparameter", "before", "after", "change"], rows, title=title)


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
