"""What every rendering shows, computed once: tables of strings and numbers from a report.

Text, HTML and the widget dashboard all lay out these same views, so they never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbgrad.numbers import fmt
from nbgrad.records import OptimizerRecord, RestoreInfo, Run, StepRecord

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.report import Report

NO_GRAD = "no grad"
MAX_STEP_COLUMNS = 8


def short_name(name: str, width: int = 32) -> str:
    """A long dotted name cut in the middle, keeping its start and its (most specific) end."""
    if len(name) <= width:
        return name
    head = max(width // 3, 1)
    return name[:head] + "…" + name[-(width - head - 1):]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


ANALYSIS_FAILED_HELP = (
    "This is a bug in nbgrad, not in your cell; the 'state' line says what happened to your "
    "objects. To go on, run the cell without %%gradcheck; to help, report the reason above, with "
    "the cell, at the nbgrad issue tracker.")


def summary_lines(report: Report) -> list[str]:
    """The run summary, led by what to do when nbgrad itself failed."""
    help_line = [ANALYSIS_FAILED_HELP] if report.analysis_error else []
    return help_line + run_summary(report.run)


def verdict(report: Report) -> str:
    """The five-second line: how many problems, or that none were found."""
    run = report.run
    if report.analysis_error:
        return f"nbgrad could not analyse this run: {report.analysis_error}"
    problems = [d for d in report.diagnoses if d.severity in ("error", "warning")]
    if problems:
        head = "; ".join(
            d.title + (f" (line {d.line})" if d.line else "") for d in problems[:3])
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        return f"{plural(len(problems), 'problem')} found: {head}{more}"
    if not run.steps and run.manual_steps:
        return (f"No optimizer was used: {plural(len(run.manual_steps), 'manual update')} seen "
                "(parameters changed in place between backward() calls); no problems found")
    if not run.steps:
        return "No optimizer step was seen: " + no_step_reason(run)
    skipped = f" ({len(run.skipped_steps)} more skipped by GradScaler)" if run.skipped_steps else ""
    return f"No problems found in {plural(len(run.steps), 'step')}{skipped}"


def shown_steps(run: Run) -> list[StepRecord]:
    """The steps the tables show: the optimizer's, or the manual updates when there were none."""
    return run.steps or run.manual_steps


def headline(report: Report) -> str:
    """The verdict in a few words, for the top of the dashboard; the rows below carry the titles."""
    if report.analysis_error:
        return "nbgrad could not analyse this run"
    problems = [d for d in report.diagnoses if d.severity in ("error", "warning")]
    if problems:
        return f"{plural(len(problems), 'problem')} found"
    if not report.run.steps:
        return "No optimizer step was seen"
    if report.run.error is not None:
        return (f"The cell raised {report.run.error.type} after "
                f"{plural(len(report.run.steps), 'step')}; no problems found in them")
    return f"No problems found in {plural(len(report.run.steps), 'step')}"


# symbols of plain text fonts (DejaVu has them), not emoji: they render without an emoji font
SEVERITY_ICON = {"error": "✖", "warning": "⚠", "info": "ℹ"}
SEVERITY_WORD = {"error": "error", "warning": "warning", "info": "note"}


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


STOP_WORDS = {
    "steps": "stopped after the requested steps",
    "finished": "the cell finished",
    "timeout": "stopped: no optimizer step within the timeout",
    "error": "the cell raised an exception",
    "interrupt": "interrupted (KeyboardInterrupt)",
    "skipped": "stopped: the GradScaler kept skipping every optimizer step",
}


def only_definitions(source: str) -> bool:
    """Whether a cell's top level only defines and imports (it ran, but trained nothing)."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return bool(body) and all(isinstance(node, kinds) for node in body)


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
    what = ", ".join(info.objects[:6]) + (f" and {len(info.objects) - 6} more"
                                          if len(info.objects) > 6 else "")
    if info.objects:
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


def run_summary(run: Run) -> list[str]:
    opts = ", ".join(f"{o.type} '{o.name}' ({plural(o.steps, 'step')}"
                     + (f", {o.skipped_steps} skipped" if o.skipped_steps else "") + ")"
                     for o in run.optimizers)
    lines = [
        f"{plural(len(run.steps), 'optimizer step')} recorded of {run.steps_requested} requested "
        f"({STOP_WORDS[run.stopped_by]}), {run.elapsed_s:.2f} s",
        f"{plural(len(run.layers), 'layer')}, {plural(len(run.params), 'parameter')}, "
        f"{plural(run.backward_calls, 'backward call')}; optimizers: {opts or 'none'}",
    ]
    losses = loss_series(run)
    if losses:
        lines.append(f"loss: {fmt(losses[0])} at step 0 -> {fmt(losses[-1])} at step "
                     f"{len(losses) - 1}")
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
    restore = restore_line(run.restore)
    if restore:
        lines.append(restore)
    return lines


def loss_series(run: Run) -> list[float | None]:
    """The first loss of each step (what the step was computed from)."""
    return [s.losses[0] if s.losses else None for s in shown_steps(run)]


def step_columns(run: Run, limit: int = MAX_STEP_COLUMNS) -> list[int]:
    """Which steps get a column: all when few, else evenly spread including first and last."""
    n = len(shown_steps(run))
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    title: str = ""
    notes: list[str] = field(default_factory=list)


def layer_grad_table(run: Run) -> Table:
    """Gradient norm of each layer at each (shown) step; 'no grad' where `.grad` was None."""
    cols = step_columns(run)
    steps = shown_steps(run)
    rows = []
    for layer in run.layers.values():
        cells = []
        for i in cols:
            stats = steps[i].layers.get(layer.name)
            cells.append("" if stats is None else fmt(stats.grad_norm, NO_GRAD))
        rows.append([layer.name, layer.type, *cells])
    return Table(["layer", "type", *[f"step {i}" for i in cols]], rows,
                 title="Gradient norm per layer")


@dataclass
class LayerRow:
    """One layer at one step, as numbers (None: no gradient / not stepped), for sorting and plots."""

    name: str
    type: str
    grad_norm: float | None
    param_norm: float
    update_norm: float | None
    update_to_param_ratio: float | None
    grad_zero_fraction: float | None


LAYER_COLUMNS: list[tuple[str, str]] = [
    ("name", "layer"), ("grad_norm", "grad norm"), ("param_norm", "param norm"),
    ("update_norm", "update norm"), ("update_to_param_ratio", "update/param"),
    ("grad_zero_fraction", "zero grad frac"),
]
MISSING_WORDS = {"grad_norm": NO_GRAD, "update_norm": "not stepped"}


def layer_rows(run: Run, step: int = -1) -> list[LayerRow]:
    """Every layer that has stats at `step` (negative counts from the end), in model order."""
    rec = shown_steps(run)[step]
    rows = []
    for layer in run.layers.values():
        s = rec.layers.get(layer.name)
        if s is not None:
            rows.append(LayerRow(layer.name, layer.type, s.grad_norm, s.param_norm, s.update_norm,
                                 s.update_to_param_ratio, s.grad_zero_fraction))
    return rows


def layer_cells(row: LayerRow) -> list[str]:
    """A layer row as the strings every renderer shows."""
    return [row.name if key == "name" else fmt(getattr(row, key), MISSING_WORDS.get(key, "—"))
            for key, _ in LAYER_COLUMNS]


def layer_step_table(run: Run, step: int = -1) -> Table:
    """Every measured quantity of each layer at one step."""
    rec = shown_steps(run)[step]
    word = "manual update" if rec.optimizer < 0 else "step"
    rows = [layer_cells(r) for r in layer_rows(run, step)]
    return Table([h for _, h in LAYER_COLUMNS], rows,
                 title=f"Layers at {word} {rec.index}")


@dataclass
class GradGrid:
    """Gradient norm of every layer at every step; None where the layer had no gradient."""

    layers: list[str]
    steps: list[int]
    values: list[list[float | None]]  # values[layer][step]


def grad_grid(run: Run) -> GradGrid:
    values = []
    for name in run.layers:
        row: list[float | None] = []
        for rec in shown_steps(run):
            stats = rec.layers.get(name)
            row.append(None if stats is None else stats.grad_norm)
        values.append(row)
    return GradGrid(list(run.layers), [s.index for s in shown_steps(run)], values)


def loss_points(run: Run) -> list[tuple[int, int, float | None]]:
    """(step, backward call within the step, loss): every value `backward()` was called on."""
    return [(rec.index, k, value) for rec in shown_steps(run) for k, value in enumerate(rec.losses)]


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
                 title="Steps skipped by the GradScaler")


def hyperparameter_table(opt: OptimizerRecord) -> Table:
    rows = []
    for gi, (before, after) in enumerate(zip(opt.before.groups, opt.after.groups)):
        for key in sorted(set(before) | set(after)):
            b, a = _hyper_value(before.get(key)), _hyper_value(after.get(key))
            if a == b and (before.get(key) is None or before.get(key) is False):
                continue  # implementation switches left at their defaults (foreach, fused, ...)
            rows.append([str(gi), key, b, a, "changed" if a != b else ""])
    return Table(["group", "hyperparameter", "before", "after", ""], rows,
                 title=f"{opt.type} '{opt.name}': hyperparameters")


def state_table(opt: OptimizerRecord) -> Table:
    """Per state buffer: on how many parameters it exists, and its total norm, before -> after."""
    def totals(buffers: dict[str, dict[str, float]]) -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for per_param in buffers.values():
            for name, value in per_param.items():
                count, sq = out.get(name, (0, 0.0))
                out[name] = (count + 1, sq + value * value)
        return out

    before, after = totals(opt.before.buffers), totals(opt.after.buffers)
    rows = []
    for name in sorted(set(before) | set(after)):
        bc, bs = before.get(name, (0, 0.0))
        ac, as_ = after.get(name, (0, 0.0))
        rows.append([name, f"{bc} params, norm {fmt(math.sqrt(bs))}" if bc else "absent",
                     f"{ac} params, norm {fmt(math.sqrt(as_))}" if ac else "absent",
                     "created" if not bc and ac else ""])
    return Table(["state buffer", "before", "after", ""], rows,
                 title=f"{opt.type} '{opt.name}': state")


def unmoved_reasons(run: Run) -> dict[str, str]:
    """Parameter -> why no recorded step moved it (only the parameters that did not move)."""
    out = {}
    steps = shown_steps(run)
    for name, info in run.params.items():
        moved = any((s.params.get(name) and (s.params[name].update_norm or 0) > 0) for s in steps)
        if moved or not steps:
            continue
        grads = [s.params[name].grad_norm for s in steps if name in s.params]
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
            opt = run.optimizers[info.optimizer]
            lr = opt.after.groups[info.param_group or 0].get("lr")
            why = "learning rate is 0" if lr == 0 else "the step left it unchanged"
        out[name] = why
    return out


def unmoved_params(run: Run) -> Table:
    """Parameters that no recorded step moved, and why: the first thing to look at."""
    rows = [[name, run.params[name].layer, why] for name, why in unmoved_reasons(run).items()]
    return Table(["parameter", "layer", "why it did not move"], rows,
                 title="Parameters that did not move")
