"""The plain-text report: what a terminal IPython, a script and `repr()` show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbgrad.diagnose.glossary import docs_page, why_it_matters
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


def hidden_lines(report: Report) -> list[str]:
    """An exercise: each problem by its severity only, the cause and fix left for the student."""
    out = [f"[{SEVERITY_LABEL[d.severity]}] problem {i}: hidden"
           for i, d in enumerate(report.problems, 1)]
    return [*out, f"    ({views.HIDDEN})"]


def diagnosis_lines(report: Report) -> list[str]:
    if report.outcome.hidden:
        return hidden_lines(report)
    out: list[str] = []
    for d in report.diagnoses:
        where = f" (line {d.line})" if d.line else ""
        out.append(f"[{SEVERITY_LABEL[d.severity]} {d.code} {d.slug}] {d.title}{where}")
        plain = why_it_matters(d.code)
        if plain:
            out.append(f"    why it matters: {plain}")
        out += [f"    evidence: {e.text}" for e in d.evidence]
        out.append(f"    in detail: {d.why}")
        out.append(f"    fix: {d.fix}")
        if d.fix_code:
            out += [f"        {c}" for c in d.fix_code.splitlines()]
        v = views.verification_view(d)
        if v is not None:
            out.append(f"    tried: {v.icon} {v.verdict}")
            out.append(f"        {v.losses}")
        out.append(f"    more: {docs_page(d.code)}")
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


def render(report: Report, advanced: bool = False) -> str:
    """The report as text; `advanced` adds the optimizers' unchanged settings and state buffers."""
    run, outcome = report.run, report.outcome
    shown: list[Table] = []
    out = [f"nbgrad: {outcome.verdict}", "", *outcome.summary, *ranks.rank_lines(run)]
    if report.diagnoses:
        out += ["", *diagnosis_lines(report)]
    out += [] if outcome.hidden else verification_lines(report)
    differ = _table(ranks.rank_table(run))
    if differ:
        out += ["", *differ]
        shown.append(ranks.rank_table(run))
    skipped = _table(views.skipped_table(run))
    if skipped:
        out += ["", *skipped]
        shown.append(views.skipped_table(run))
    if not outcome.hidden:
        shown += [views.trials_table(report),
                  *(views.rates_table(d) for d in views.verified(report))]
    if outcome.updates:
        folded = 0
        tables = [views.layer_grad_table(report), views.layer_step_table(report)]
        for opt in run.optimizers:
            tables.append(views.hyperparameter_table(opt))
            more = [views.hyperparameter_table(opt, advanced=True), views.state_table(opt)]
            if advanced:
                tables += more
            else:
                folded += sum(bool(t.rows) for t in more)
        tables += [views.unmoved_table(report),
                   Table.of(columns.ACTIVATION, activation_rows(run), title="Activations")]
        for table in tables:
            lines = _table(table)
            if lines:
                out += ["", *lines]
                shown.append(table)
        if folded:
            out += ["", "(the optimizers' unchanged settings and state buffers are left out: "
                        "report.to_text(advanced=True) or the dashboard's Optimizer tab shows them)"]
    meanings = views.legend(shown)
    if meanings:
        out += ["", "What the columns mean", *[f"  {line}" for line in meanings]]
    return "\n".join(out).rstrip() + "\n"
