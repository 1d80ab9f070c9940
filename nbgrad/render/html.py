"""The static HTML report: what GitHub, nbviewer and nbconvert show when no widget can run.

Every user-controlled string (layer and parameter names, messages, cell lines) is escaped. Long
tables show their first rows and fold the rest into a <details> element; long names are cut with
the full name in a tooltip.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nbgrad.diagnose.glossary import docs_page, term, why_it_matters, word
from nbgrad.render import columns, ranks, views
from nbgrad.render.activations import activation_rows
from nbgrad.render.moves import param_moves
from nbgrad.render.style import (
    HEALTH_CELL,
    HEALTH_WORD,
    SEVERITY_ICON,
    SEVERITY_WORD,
    severity_css,
)
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
    ".nbgrad-report .nbgrad-high,.nbgrad-report .nbgrad-low{" + HEALTH_CELL + "}"
    ".nbgrad-report .nbgrad-tried{margin:6px 0 2px;padding:4px 8px;"
    "background:rgba(128,128,128,.08)}</style>"
)


def name_cell(name: str) -> str:
    """A name cut to NAME_WIDTH characters; the whole name is in the tooltip."""
    short = views.short_name(name, NAME_WIDTH)
    if short == name:
        return escape(name)
    return f'<span title="{escape(name)}">{escape(short)}</span>'


def health(title: str, text: str) -> str:
    """` class="num nbgrad-high" title="very large: ..."` for a number outside its column's
    healthy range (colour and a word in the tooltip; the word is also said under the table)."""
    found = term(title)
    try:
        judged = found.judge(float(text)) if found is not None else None
    except ValueError:
        judged = None
    if found is None or judged is None:
        return ' class="num"'
    word = HEALTH_WORD[judged]
    return (f' class="num nbgrad-{judged}" title="{escape(word)}; healthy: '
            f'{escape(found.healthy, quote=True)}"')


def _rows(rows: list[list[str]], numeric: list[bool], header: list[str] | None = None) -> str:
    titles = header or [""] * len(numeric)
    return "".join(
        "<tr>" + "".join(f"<td>{name_cell(c)}</td>" if i == 0 else
                         f"<td{health(titles[i], c)}>{escape(c)}</td>" if numeric[i] else
                         f"<td{said(c)}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows)


def said(text: str) -> str:
    """A tooltip for a word the glossary explains (betas, exp_avg, dampening)."""
    found = word(text)
    return "" if found is None else f' title="{escape(found.line(), quote=True)}"'


def header_cell(title: str, numeric: bool) -> str:
    """A column header with its meaning and healthy range as the tooltip (the glossary's)."""
    found = term(title)
    tip = f' title="{escape(found.line(), quote=True)}"' if found is not None else ""
    return f'<th{tip} class="num">{escape(title)}</th>' if numeric else \
        f"<th{tip}>{escape(title)}</th>"


def legend(tables: list[Table]) -> str:
    """What each column means, folded under the tables (the same lines as the text's legend)."""
    lines = views.legend(tables)
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return (f'<details class="nbgrad-legend"><summary>What the columns mean</summary>'
            f"<ul>{items}</ul></details>")


def folded(title: str, body: str) -> str:
    """Advanced detail a beginner need not read, closed by default."""
    return f"<details><summary>{escape(title)}</summary>{body}</details>" if body else ""


def table(t: Table) -> str:
    if not t.rows:
        return ""
    numeric = t.numeric or [False] * len(t.header)
    head = "".join(header_cell(h, n) for h, n in zip(t.header, numeric))
    title = f"<h4>{escape(t.title)}</h4>" if t.title else ""
    notes = "".join(f'<p class="nbgrad-note">{escape(n)}</p>' for n in t.notes)
    shown = (f"<table><thead><tr>{head}</tr></thead>"
             f"<tbody>{_rows(t.rows[:SHOWN_ROWS], numeric, t.header)}</tbody>")
    if len(t.rows) <= SHOWN_ROWS:
        return f"{title}{shown}</table>{notes}"
    rest = f"<tbody>{_rows(t.rows[SHOWN_ROWS:], numeric, t.header)}</tbody>"
    return (f"{title}{shown}</table><details><summary>{len(t.rows) - SHOWN_ROWS} more rows "
            f"</summary><table><thead><tr>{head}</tr></thead>{rest}</table></details>{notes}")


def diagnosis(d: Diagnosis, report: Report, figures: str = "") -> str:
    v = views.diagnosis_view(d, report.run)
    where = f" <span>({escape(v.where)})</span>" if v.where else ""
    items = "".join(f"<li>{escape(e)}</li>" for e in v.evidence)
    code = f"<pre>{escape(v.fix_code)}</pre>" if v.fix_code else ""
    plain = why_it_matters(d.code)
    matters = f"<div><i>Why it matters:</i> {escape(plain)}</div>" if plain else ""
    return (f'<div class="nbgrad-diag nbgrad-{escape(v.severity)}"><b>{v.icon} {v.word}</b> '
            f"<code>{escape(v.code)} {escape(v.slug)}</code> <b>{escape(v.title)}</b>{where}"
            f"{matters}<ul>{items}</ul><div><i>In detail:</i> {escape(v.why)}</div>"
            f"<div><i>Fix:</i> {escape(v.fix)}</div>{code}{tried(d, figures)}"
            f'<div class="nbgrad-note">More: {escape(docs_page(d.code))}</div></div>')


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
    if outcome.hidden:
        parts += [f'<div class="nbgrad-diag nbgrad-{d.severity}"><b>{SEVERITY_ICON[d.severity]} '
                  f"{SEVERITY_WORD[d.severity]}</b>: problem {i}, hidden</div>"
                  for i, d in enumerate(report.problems, 1)]
        parts.append(f'<p class="nbgrad-note">{escape(views.HIDDEN)}</p>')
    else:
        parts += [diagnosis(d, report, shown.get(i, "")) for i, d in enumerate(report.diagnoses)]
        parts.append(table(views.trials_table(report)))
        parts += [table(views.rates_table(d)) for d in views.verified(report)]
    if report.verification is not None and not views.verified(report) and not outcome.hidden:
        parts.append(f"<p><b>Fixes tried:</b> {escape(report.verification.verdict)}</p>")
    parts.append(table(ranks.rank_table(run)))
    parts.append(figures)
    explained = [views.trials_table(report), ranks.rank_table(run),
                 *(views.rates_table(d) for d in views.verified(report)), views.skipped_table(run)]
    parts.append(table(views.skipped_table(run)))
    if outcome.updates:
        basic = [views.unmoved_table(report), views.layer_grad_table(report),
                 views.layer_step_table(report),
                 *(views.hyperparameter_table(opt) for opt in run.optimizers)]
        advanced = [*(t for opt in run.optimizers for t in (
                        views.hyperparameter_table(opt, advanced=True), views.state_table(opt))),
                    param_table(report)]
        parts += [table(t) for t in basic]
        parts.append(folded("Advanced: optimizer settings that did not change, state buffers, "
                            "every parameter", "".join(table(t) for t in advanced)))
        parts.append(table(activation_table(report)))
        explained += [*basic, *advanced, activation_table(report)]
    parts.append(legend(explained))
    parts.append("</div>")
    return "".join(parts)
