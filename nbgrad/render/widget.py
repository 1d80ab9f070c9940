"""The ipywidgets dashboard: the verdict first, a row per diagnosis, then tabs with the evidence.

Built from the report's outcome, the same views as the text and HTML reports and one FigureSet, so
the widget, the static HTML beside it in the mime bundle and the terminal text never disagree.
Colours come from JupyterLab's CSS variables (light and dark themes); severity is always a word and
an icon too.

A dashboard holds about 140 widgets in the kernel. When a cell is run again, JupyterLab replaces
its output, so the dashboard displayed by the cell's previous run is closed then (`displayed`): the
kernel keeps one dashboard per cell, not one per run.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from nbgrad.diagnose.fixes import offered_cell
from nbgrad.diagnose.outcome import plural
from nbgrad.render import html, views
from nbgrad.render.figures import FigureSet
from nbgrad.render.style import SEVERITY_COLOR, STATUS_ICON
from nbgrad.render.widget_tabs import tabs
from nbgrad.render.widget_trial import TrialBox, TrialProgress, close_widgets

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.report import Report

CSS = """<style>
.nbgrad-dashboard{color:var(--jp-ui-font-color1);font-family:var(--jp-ui-font-family);
  font-size:var(--jp-ui-font-size1,13px)}
.nbgrad-dashboard h4{margin:8px 0 4px;font-size:13px;color:var(--jp-ui-font-color1)}
.nbgrad-verdict{font-size:17px;font-weight:600;margin:4px 0 2px;color:var(--jp-ui-font-color0)}
.nbgrad-summary{color:var(--jp-ui-font-color2);margin:0 0 6px;line-height:1.5}
.nbgrad-row{border-left:4px solid var(--jp-border-color1);padding:2px 8px;margin:3px 0;
  background:var(--jp-layout-color1)}
SEVERITY_ROWS
.nbgrad-sev{font-weight:700;display:inline-block;min-width:92px}
.nbgrad-where{color:var(--jp-ui-font-color2);font-family:var(--jp-code-font-family);font-size:12px}
.nbgrad-dashboard pre{background:var(--jp-layout-color2);color:var(--jp-content-font-color1);
  padding:4px 8px;margin:4px 0;font-family:var(--jp-code-font-family);white-space:pre-wrap}
.nbgrad-dashboard .widget-html-content,.nbgrad-dashboard .jupyter-widget-html-content{
  line-height:1.45}
.nbgrad-table{border-collapse:collapse;font-size:12px;margin:2px 0 8px}
.nbgrad-table th{text-align:left;padding:3px 10px 3px 4px;font-weight:600;vertical-align:bottom;
  border-bottom:1px solid var(--jp-border-color1)}
.nbgrad-table td{text-align:left;padding:2px 10px 2px 4px;white-space:nowrap;vertical-align:top;
  border-bottom:1px solid var(--jp-border-color2)}
.nbgrad-table .num{text-align:right}
.nbgrad-table tr:hover td{background:var(--jp-layout-color2)}
.nbgrad-missing,.nbgrad-note{color:var(--jp-ui-font-color2);font-style:italic}
.nbgrad-changed{font-weight:700}
.nbgrad-scroll{max-height:320px;overflow:auto}
.nbgrad-tried{margin:6px 0 2px;padding:4px 8px;background:var(--jp-layout-color2)}
.nbgrad-dashboard .nbgrad-report table{border-collapse:collapse;font-size:12px;margin:2px 0 8px}
.nbgrad-dashboard .nbgrad-report th,.nbgrad-dashboard .nbgrad-report td{text-align:left;
  padding:2px 10px 2px 4px;border-bottom:1px solid var(--jp-border-color2)}
.nbgrad-dashboard .nbgrad-report .num{text-align:right}
.nbgrad-dashboard img.nbgrad-figure,.nbgrad-figure{background:#fff;border-radius:4px;
  max-width:100%;height:auto;margin:4px 0}
</style>""".replace("SEVERITY_ROWS", "".join(
    f".nbgrad-row-{s}{{border-left-color:{c}}}.nbgrad-row-{s} .nbgrad-sev{{color:{c}}}"
    for s, c in SEVERITY_COLOR.items()))


def verdict_html(report: Report) -> str:
    """The headline with an icon, then what it is about and the run summary in one grey block."""
    outcome = report.outcome
    lines = list(outcome.summary)
    about = outcome.verdict[len(outcome.headline):].lstrip(":; ")
    if about and not outcome.problems:  # a problem's title is on its own row below
        lines.insert(0, about)
    extra = f" ({plural(outcome.notes, 'note')})" if outcome.notes and not outcome.problems else ""
    return (f'<div class="nbgrad-verdict">{STATUS_ICON[outcome.status]} '
            f'{escape(outcome.headline)}{escape(extra)}</div><div class="nbgrad-summary">'
            + "<br>".join(escape(x) for x in lines) + "</div>")


class DiagnosisRow:
    """Severity, title and cell line; a toggle opens the evidence, why, fix, the trial of the fix
    ("Try the fix", or what it showed) and, once the corrected cell ran, the button that adds it."""

    def __init__(self, d: Diagnosis, report: Report, figures: FigureSet | None = None,
                 index: int | None = None) -> None:
        v = views.diagnosis_view(d, report.run)
        self.diagnosis = d
        self.report = report
        where = f'<div class="nbgrad-where">{escape(v.where)}</div>' if v.where else ""
        self.summary = W.HTML(
            f'<span class="nbgrad-sev">{v.icon} {escape(v.word)}</span> <b>{escape(v.title)}</b>'
            f' <code>{escape(v.code)}</code>{where}', layout=W.Layout(flex="1 1 auto"))
        self.toggle = W.ToggleButton(value=False, description="evidence and fix",
                                     icon="chevron-down", layout=W.Layout(width="170px"))
        evidence = "".join(f"<li>{escape(e)}</li>" for e in v.evidence)
        code = f"<pre>{escape(v.fix_code)}</pre>" if v.fix_code else ""
        self.text = W.HTML(
            f"<b>Evidence</b><ul>{evidence}</ul><b>Why it matters</b><p>{escape(v.why)}</p>"
            f"<b>Fix</b><p>{escape(v.fix)}</p>{code}")
        position = index if index is not None else report.diagnoses.index(d)
        self.trial = TrialBox(report, position, figures or FigureSet(report), self._tried)
        self.corrected: str | None = None
        self.fix_button: W.Button | None = None
        self.status: W.HTML | None = None  # what the button did; only a row with a button has it
        self.details = W.VBox([], layout=W.Layout(display="none"))
        self._offer()
        self.toggle.observe(self._show, names="value")
        self.widget = W.VBox([W.HBox([self.summary, self.toggle]), self.details])
        self.widget.add_class("nbgrad-row").add_class(f"nbgrad-row-{d.severity}")

    def _offer(self) -> None:
        """The details: words, the trial, and the button that adds the corrected cell, which
        exists only once that cell ran under a check without error."""
        self.corrected = offered_cell(self.report.run, self.diagnosis)
        body: list[W.Widget] = [self.text, self.trial.widget]
        if self.corrected is not None and self.fix_button is None:
            self.status = W.HTML()
            self.fix_button = W.Button(description="Put the corrected cell below", icon="plus",
                                       tooltip="Adds a new cell with the fix applied (it ran "
                                               "without error); your cell stays as it is.",
                                       layout=W.Layout(width="240px"))
            self.fix_button.on_click(self.put_fix)
        if self.corrected is not None and self.fix_button is not None and self.status is not None:
            body += [self.fix_button, self.status]
        self.details.children = body

    def _tried(self) -> None:
        """A trial ended: the words (the fix may now be the sweep's best rate) and the offer."""
        v = views.diagnosis_view(self.diagnosis, self.report.run)
        code = f"<pre>{escape(v.fix_code)}</pre>" if v.fix_code else ""
        evidence = "".join(f"<li>{escape(e)}</li>" for e in v.evidence)
        self.text.value = (f"<b>Evidence</b><ul>{evidence}</ul><b>Why it matters</b>"
                           f"<p>{escape(v.why)}</p><b>Fix</b><p>{escape(v.fix)}</p>{code}")
        self._offer()

    def _show(self, change: dict[str, Any]) -> None:
        self.details.layout.display = "" if change["new"] else "none"
        self.toggle.icon = "chevron-up" if change["new"] else "chevron-down"

    def put_fix(self, _: Any = None) -> None:
        """Queue the corrected cell as the next input; the user's cell is never replaced."""
        from IPython import get_ipython

        shell = get_ipython()
        assert self.corrected is not None and self.status is not None
        preview = (f"<details><summary>the corrected cell</summary><pre>{escape(self.corrected)}"
                   "</pre></details>")
        if shell is None:
            self.status.value = f"<p>No IPython session to add a cell to: copy it from here.</p>{preview}"
            return
        shell.set_next_input(self.corrected, replace=False)
        self.status.value = ("<p>✔ A corrected copy is on its way: Jupyter adds it as a new cell "
                             "below the next cell you run (run any cell, e.g. this one again). "
                             f"Your cell is unchanged.</p>{preview}")


class Dashboard:
    """The whole widget tree, with its parts kept as attributes (tests and callbacks use them)."""

    def __init__(self, report: Report, figures: FigureSet | None = None) -> None:
        self.report = report
        self.figures = figures or FigureSet(report)
        self.verdict = W.HTML(verdict_html(report))
        self.rows = [DiagnosisRow(d, report, self.figures, i)
                     for i, d in enumerate(report.diagnoses)]
        self.trials = TrialsBox(self)
        self.tabs, self.parts = tabs(report, self.figures)
        self.widget = W.VBox([W.HTML(CSS), self.verdict, W.VBox([r.widget for r in self.rows]),
                              self.trials.widget, self.tabs])
        self.widget.add_class("nbgrad-dashboard")

    def tab(self, title: str) -> Any:
        """The part behind the tab with this title (KeyError when the tab is absent)."""
        return self.parts[title]

    def close(self) -> None:
        """Close every widget of the tree: the kernel forgets them, the frontend drops them."""
        close_tree(self.widget)


def close_tree(widget: W.Widget) -> None:
    """Close a widget with its children and the layout and style models they own: closing only
    the widget leaves those in the kernel for good."""
    for part in _descendants(widget):
        part.close()


class TrialsBox:
    """Below the rows: the fixes tried (a table, and which combination trains best), or, with
    several fixes not yet tried, a button that tries each alone and then all together."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.progress: TrialProgress | None = None
        self.button: W.Button | None = None
        self.message: W.HTML | None = None
        self.widget = W.VBox([])
        self.show()

    def show(self) -> None:
        report = self.dashboard.report
        table = html.table(views.trials_table(report))
        if report.verification is not None or table:
            said = "" if table else escape(report.verification.verdict
                                           if report.verification else "")
            old = list(self.widget.children)
            self.widget.children = [W.HTML(f'<div class="nbgrad-report">{table}{said}</div>')]
            close_widgets(old)
            return
        fixable = [r for r in self.dashboard.rows if r.trial.button is not None]
        if report.trials is None or len(fixable) < 2:
            return
        self.button = W.Button(description=f"Try all {len(fixable)} fixes",
                               tooltip="Each fix alone, then all together, from the state "
                                       "before your cell; everything is restored after",
                               icon="play", layout=W.Layout(width="200px"))
        self.button.on_click(self.try_all)
        self.progress = TrialProgress()
        self.message = W.HTML()
        self.widget.children = [W.HBox([self.button, self.progress.widget]), self.message]

    def try_all(self, _: Any = None) -> None:
        report = self.dashboard.report
        if report.trials is None or self.progress is None or self.message is None:
            return
        if self.button is not None:
            self.button.disabled = True
        self.progress.start()
        try:
            report.trials.try_all(self.progress)
        except Exception as error:
            self.message.value = (f"<p>nbgrad could not try the fixes ({escape(type(error).__name__)}"
                                  f": {escape(str(error))}); your objects were restored.</p>")
            return
        finally:
            self.progress.done()
        for row in self.dashboard.rows:
            row.trial.show()
            row._tried()
        self.show()


def _descendants(widget: W.Widget) -> list[W.Widget]:
    """The widget, its children's trees, and the layout and style models each one owns."""
    out = [widget]
    for part in ("layout", "style"):
        owned = getattr(widget, part, None)
        if isinstance(owned, W.Widget):
            out.append(owned)
    for child in getattr(widget, "children", ()):
        out += _descendants(child)
    return out


_BY_CELL: dict[str, Dashboard] = {}  # the dashboard each notebook cell displays now


def displayed(dashboard: Dashboard, cell: str | None, deleted: list[str] | None = None) -> None:
    """Note that `dashboard` is now the output of notebook cell `cell`: the one the cell showed
    before is closed (its output was replaced), and so are those of `deleted` cells."""
    for gone in [*(deleted or []), *([cell] if cell else [])]:
        previous = _BY_CELL.pop(gone, None)
        if previous is not None and previous is not dashboard:
            previous.close()
    if cell:
        _BY_CELL[cell] = dashboard
