"""The plain-text report: what a terminal IPython, a script and `repr()` show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbgrad.render import columns, ranks, views
from nbgrad.render.activations import activation_rows
from nbgrad.render.style import SEVERITY_LABEL
from nbgrad.render.views import Table

if TYPE_CHECKING:
    from nbgrad.report import Report


def _table(table: Table, indent: str = "  ") -> list[str]:
    if not table.rows:
        return []
    widths = [max(len(r[i]) for r in [table.header, *table.rows])
              for i in range(len(table.header))]

    def line(cells: list[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()
    out = [table.title + ":"] if table.title else []
    out += [line(table.header), *[line(r) for r in table.rows]]
    out += [f"{indent}({note})" for note in table.notes]
    return out


def diagnosis_lines(report: Report) -> list[str]:
    out: list[str] = []
    for d in report.diagnoses:
        where = f" (line {d.line})" if d.line else ""
        out.append(f"[{SEVERITY_LABEL[d.severity]} {d.code} {d.slug}] {d.title}{where}")
        out += [f"    evidence: {e.text}" for e in d.evidence]
        out.append(f"    why: {d.why}")
        out.append(f"    fix: {d.fix}")
        if d.fix_code:
            out += [f"        {c}" for c in d.fix_code.splitlines()]
        v = views.verification_view(d)
        if v is not None:
            out.append(f"    tried: {v.icon} {v.verdict}")
            out.append(f"        {v.losses}")
    return out


def verification_lines(report: Report) -> list[str]:
    """The fixes tried, as tables: each fix and all together, each learning-rate sweep."""
    out: list[str] = []
    for table in [views.trials_table(report),
                  *(views.rates_table(d) for d in views.verified(report))]:
        lines = _table(table)
        if lines:
            out += ["", *lines]
    if not out and report.verification is not None:  # none could be tried: say why
        out += ["", f"Fixes tried: {report.verification.verdict}"]
    return out


def render(report: Report) -> str:
    run, outcome = report.run, report.outcome
    out = [f"nbgrad: {outcome.verdict}", "", *outcome.summary, *ranks.rank_lines(run)]
    if report.diagnoses:
        out += ["", *diagnosis_lines(report)]
    differ = _table(ranks.rank_table(run))
    if differ:
        out += ["", *differ]
    out += verification_lines(report)
    skipped = _table(views.skipped_table(run))
    if skipped:
        out += ["", *skipped]
    if outcome.updates:
        out += ["", *_table(views.layer_grad_table(report))]
        out += ["", *_table(views.layer_step_table(report))]
        for opt in run.optimizers:
            out += ["", *_table(views.hyperparameter_table(opt))]
            out += _table(views.state_table(opt))
        unmoved = _table(views.unmoved_table(report))
        if unmoved:
            out += ["", *unmoved]
        acts = _table(Table.of(columns.ACTIVATION, activation_rows(run), title="Activations"))
        if acts:
            out += ["", *acts]
    return "\n".join(out).rstrip() + "\n"
