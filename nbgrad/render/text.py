"""The plain-text report: what a terminal IPython, a script and `repr()` show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbgrad.render import ranks, views
from nbgrad.render.views import Table

if TYPE_CHECKING:
    from nbgrad.report import Report

SEVERITY_WORD = {"error": "ERROR", "warning": "WARNING", "info": "note"}


def _table(table: Table, indent: str = "  ") -> list[str]:
    if not table.rows:
        return []
    widths = [max(len(r[i]) for r in [table.header, *table.rows])
              for i in range(len(table.header))]
    def line(cells: list[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()
    out = [table.title + ":"] if table.title else []
    out += [line(table.header), *[line(r) for r in table.rows]]
    return out


def diagnosis_lines(report: Report) -> list[str]:
    out: list[str] = []
    for d in report.diagnoses:
        where = f" (line {d.line})" if d.line else ""
        out.append(f"[{SEVERITY_WORD[d.severity]} {d.code} {d.slug}] {d.title}{where}")
        out += [f"    evidence: {e.text}" for e in d.evidence]
        out.append(f"    why: {d.why}")
        out.append(f"    fix: {d.fix}")
        if d.fix_code:
            out += [f"        {c}" for c in d.fix_code.splitlines()]
    return out


def render(report: Report) -> str:
    run = report.run
    out = [f"nbgrad: {views.verdict(report)}", ""]
    out += views.summary_lines(report)
    out += ranks.rank_lines(run)
    if report.diagnoses:
        out += ["", *diagnosis_lines(report)]
    differ = _table(ranks.rank_table(run))
    if differ:
        out += ["", *differ]
    skipped = _table(views.skipped_table(run))
    if skipped:
        out += ["", *skipped]
    if views.shown_steps(run):
        out += ["", *_table(views.layer_grad_table(run))]
        out += ["", *_table(views.layer_step_table(run))]
        for opt in run.optimizers:
            out += ["", *_table(views.hyperparameter_table(opt))]
            out += _table(views.state_table(opt))
        unmoved = _table(views.unmoved_params(run))
        if unmoved:
            out += ["", *unmoved]
    return "\n".join(out).rstrip() + "\n"
