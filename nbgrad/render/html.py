"""The static HTML report: what GitHub, nbviewer and nbconvert show when no widget can run.

Every user-controlled string (layer and parameter names, messages, cell lines) is escaped.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nbgrad.render import views
from nbgrad.render.views import Table

if TYPE_CHECKING:
    from nbgrad.report import Report

SEVERITY_ICON = {"error": "⛔ error", "warning": "⚠️ warning", "info": "ℹ️ note"}

STYLE = (
    "<style>.nbgrad-report{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}"
    ".nbgrad-report table{border-collapse:collapse;margin:4px 0 10px}"
    ".nbgrad-report th,.nbgrad-report td{padding:2px 8px;text-align:right;"
    "border-bottom:1px solid rgba(128,128,128,.3)}"
    ".nbgrad-report td:first-child,.nbgrad-report th:first-child{text-align:left}"
    ".nbgrad-report .nbgrad-verdict{font-size:15px;font-weight:600;margin:4px 0}"
    ".nbgrad-report .nbgrad-diag{border-left:4px solid rgba(128,128,128,.6);"
    "padding:2px 8px;margin:6px 0}"
    ".nbgrad-report .nbgrad-error{border-left-color:#d32f2f}"
    ".nbgrad-report .nbgrad-warning{border-left-color:#f9a825}"
    ".nbgrad-report pre{margin:2px 0;padding:4px;background:rgba(128,128,128,.12)}</style>"
)


def table(t: Table) -> str:
    if not t.rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in t.rows)
    title = f"<h4>{escape(t.title)}</h4>" if t.title else ""
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def diagnosis(d: object) -> str:
    from nbgrad.diagnose.diagnosis import Diagnosis

    assert isinstance(d, Diagnosis)
    where = f" <span>(line {d.line})</span>" if d.line else ""
    items = "".join(f"<li>{escape(e.text)}</li>" for e in d.evidence)
    code = f"<pre>{escape(d.fix_code)}</pre>" if d.fix_code else ""
    return (f'<div class="nbgrad-diag nbgrad-{d.severity}"><b>{SEVERITY_ICON[d.severity]}</b> '
            f"<code>{escape(d.code)} {escape(d.slug)}</code> <b>{escape(d.title)}</b>{where}"
            f"<ul>{items}</ul><div><i>Why:</i> {escape(d.why)}</div>"
            f"<div><i>Fix:</i> {escape(d.fix)}</div>{code}</div>")


def render(report: Report, figures: str = "") -> str:
    """The whole report as one HTML fragment; `figures` is extra HTML (embedded images)."""
    run = report.run
    parts = [STYLE, '<div class="nbgrad-report">',
             f'<div class="nbgrad-verdict">nbgrad: {escape(views.verdict(report))}</div>',
             "<div>" + "<br>".join(escape(x) for x in views.run_summary(run)) + "</div>"]
    parts += [diagnosis(d) for d in report.diagnoses]
    parts.append(figures)
    parts.append(table(views.skipped_table(run)))
    if views.shown_steps(run):
        parts.append(table(views.layer_grad_table(run)))
        parts.append(table(views.layer_step_table(run)))
        for opt in run.optimizers:
            parts.append(table(views.hyperparameter_table(opt)))
            parts.append(table(views.state_table(opt)))
        parts.append(table(views.unmoved_params(run)))
    parts.append("</div>")
    return "".join(parts)
