"""The static HTML report: what GitHub, nbviewer and nbconvert show when no widget can run.

Every user-controlled string (layer and parameter names, messages, cell lines) is escaped. Long
tables show their first rows and fold the rest into a <details> element; long names are cut with
the full name in a tooltip.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nbgrad.render import columns, ranks, views
from nbgrad.render.activations import activation_rows
from nbgrad.render.moves import param_moves
from nbgrad.render.style import severity_css
from nbgrad.render.views import Table

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.report import Report

SHOWN_ROWS = 25
NAME_WIDTH = 40

STYLE = (
    "<style>.nbgrad-report{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}"
    ".nbgrad-report table{border-collapse:collapse;margin:4px 0 10px}"
    ".nbgrad-report th,.nbgrad-report td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid rgba(128,128,128,.3)}"
    ".nbgrad-report .num{text-align:right}"
    ".nbgrad-report .nbgrad-verdict{font-size:15px;font-weight:600;margin:4px 0}"
    ".nbgrad-report .nbgrad-diag{border-left:4px solid rgba(128,128,128,.6);"
    "padding:2px 8px;margin:6px 0}"
    + severity_css(".nbgrad-report .nbgrad-{severity}") +
    ".nbgrad-report pre{margin:2px 0;padding:4px;background:rgba(128,128,128,.12)}"
    ".nbgrad-report .nbgrad-note{color:rgba(128,128,128,.9);font-style:italic}"
    ".nbgrad-report img{display:block;margin:6px 0}"
    ".nbgrad-report .nbgrad-tried{margin:6px 0 2px;padding:4px 8px;"
    "background:rgba(128,128,128,.08)}</style>"
)


def name_cell(name: str) -> str:
    """A name cut to NAME_WIDTH characters; the whole name is in the tooltip."""
    short = views.short_name(name, NAME_WIDTH)
    if short == name:
        return escape(name)
    return f'<span title="{escape(name)}">{escape(short)}</span>'


def _rows(rows: list[list[str]], numeric: list[bool]) -> str:
    return "".join(
        "<tr>" + "".join(f"<td>{name_cell(c)}</td>" if i == 0 else
                         f'<td class="num">{escape(c)}</td>' if numeric[i] else
                         f"<td>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows)


def table(t: Table) -> str:
    if not t.rows:
        return ""
    numeric = t.numeric or [False] * len(t.header)
    head = "".join(f'<th class="num">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>"
                   for h, n in zip(t.header, numeric))
    title = f"<h4>{escape(t.title)}</h4>" if t.title else ""
    notes = "".join(f'<p class="nbgrad-note">{escape(n)}</p>' for n in t.notes)
    shown = (f"<table><thead><tr>{head}</tr></thead>"
             f"<tbody>{_rows(t.rows[:SHOWN_ROWS], numeric)}</tbody>")
    if len(t.rows) <= SHOWN_ROWS:
        return f"{title}{shown}</table>{notes}"
    rest = f"<tbody>{_rows(t.rows[SHOWN_ROWS:], numeric)}</tbody>"
    return (f"{title}{shown}</table><details><summary>{len(t.rows) - SHOWN_ROWS} more rows "
            f"</summary><table><thead><tr>{head}</tr></thead>{rest}</table></details>{notes}")


def diagnosis(d: Diagnosis, report: Report, figures: str = "") -> str:
    v = views.diagnosis_view(d, report.run)
    where = f" <span>({escape(v.where)})</span>" if v.where else ""
    items = "".join(f"<li>{escape(e)}</li>" for e in v.evidence)
    code = f"<pre>{escape(v.fix_code)}</pre>" if v.fix_code else ""
    return (f'<div class="nbgrad-diag nbgrad-{escape(v.severity)}"><b>{v.icon} {v.word}</b> '
            f"<code>{escape(v.code)} {escape(v.slug)}</code> <b>{escape(v.title)}</b>{where}"
            f"<ul>{items}</ul><div><i>Why:</i> {escape(v.why)}</div>"
            f"<div><i>Fix:</i> {escape(v.fix)}</div>{code}{tried(d, figures)}</div>")


def tried(d: Diagnosis, figures: str = "") -> str:
    """A tried fix: its verdict, the two loss ranges, its figures, the corrected cell."""
    v = views.verification_view(d)
    if v is None:
        return ""
    return (f'<div class="nbgrad-tried"><b>{v.icon} Tried:</b> {escape(v.verdict)}'
            f'<div class="nbgrad-note">{escape(v.losses)}</div>{figures}'
            f"<details><summary>the corrected cell, as it ran</summary><pre>{escape(v.source)}"
            "</pre></details></div>")


def param_table(report: Report) -> Table:
    moves = param_moves(report)
    several = len({m.optimizer for m in moves}) > 1  # one optimizer: the column says nothing
    shown = [c for c in columns.PARAM if c.key != "layer" and (c.key != "optimizer" or several)]
    return Table.of(shown, moves, title="Parameters: movement and optimizer state")


def activation_table(report: Report) -> Table:
    return Table.of(columns.ACTIVATION, activation_rows(report.run), title="Activations")


def render(report: Report, figures: str = "",
           trial_figures: dict[int, str] | None = None) -> str:
    """The whole report as one HTML fragment; `figures` is extra HTML (embedded images), and
    `trial_figures[i]` the figures of diagnosis i's tried fix."""
    run, outcome = report.run, report.outcome
    shown = trial_figures or {}
    parts = [STYLE, '<div class="nbgrad-report">',
             f'<div class="nbgrad-verdict">nbgrad: {escape(outcome.verdict)}</div>',
             "<div>" + "<br>".join(escape(x) for x in [*outcome.summary, *ranks.rank_lines(run)])
             + "</div>"]
    parts += [diagnosis(d, report, shown.get(i, "")) for i, d in enumerate(report.diagnoses)]
    parts.append(table(ranks.rank_table(run)))
    parts.append(table(views.trials_table(report)))
    parts += [table(views.rates_table(d)) for d in views.verified(report)]
    if report.verification is not None and not views.verified(report):
        parts.append(f"<p><b>Fixes tried:</b> {escape(report.verification.verdict)}</p>")
    parts.append(figures)
    parts.append(table(views.skipped_table(run)))
    if outcome.updates:
        parts.append(table(views.unmoved_table(report)))
        parts.append(table(views.layer_grad_table(report)))
        parts.append(table(views.layer_step_table(report)))
        for opt in run.optimizers:
            parts.append(table(views.hyperparameter_table(opt)))
            parts.append(table(views.state_table(opt)))
        parts.append(table(param_table(report)))
        parts.append(table(activation_table(report)))
    parts.append("</div>")
    return "".join(parts)
