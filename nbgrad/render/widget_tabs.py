"""The dashboard's tabs: Gradients, Optimizer, Loss, Activations, each from views and figures.

Every table here uses the columns of render/columns.py, the ones the text and HTML reports show.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from nbgrad.diagnose.outcome import plural
from nbgrad.render import columns, views
from nbgrad.render.activations import ActivationRow, activation_rows
from nbgrad.render.figures import FigureSet
from nbgrad.render.html import folded, header_cell, said
from nbgrad.render.moves import param_moves
from nbgrad.render.views import Table
from nbgrad.render.widget_table import SortableTable

if TYPE_CHECKING:
    from nbgrad.report import Report


def image(data: bytes | None) -> W.Widget:
    if data is None:
        return W.HTML('<span class="nbgrad-missing">nothing to plot</span>')
    return W.Image(value=data, format="png").add_class("nbgrad-figure")


def html_table(t: Table, marks: dict[str, str] | None = None) -> str:
    """A small fixed table (hyperparameters, state buffers, losses); `marks` styles flagged cells."""
    if not t.rows:
        return ""
    numeric = t.numeric or [False] * len(t.header)
    head = "".join(header_cell(h, n) for h, n in zip(t.header, numeric))
    body = ""
    for row in t.rows:
        cells = []
        for c, n in zip(row, numeric):
            mark = " ".join(x for x in ((marks or {}).get(c), "num" if n else None) if x)
            cells.append(f'<td class="{mark}"{said(c)}>{escape(c)}</td>' if mark
                         else f"<td{said(c)}>{escape(c)}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    return f'<table class="nbgrad-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def message(text: str) -> W.HTML:
    return W.HTML(f'<p class="nbgrad-note">{escape(text)}</p>')


class GradientsTab:
    """Heat map of every update, then bars and the sortable table of the update the slider picks."""

    def __init__(self, report: Report, figures: FigureSet) -> None:
        self.report, self.figures = report, figures
        updates = report.outcome.updates
        if not updates:
            self.widget: W.Widget = message(
                "No optimizer step was recorded, so there are no gradients to show.")
            return
        last = len(updates) - 1
        self.heatmap = image(figures.get("heatmap"))
        self.slider = W.IntSlider(value=last, min=0, max=last, description=updates[0].kind,
                                  continuous_update=False, disabled=last == 0)
        self.bars = image(figures.bars(last))
        self.caption = W.HTML()
        self.readings = W.HTML()
        self.table = SortableTable(columns.LAYER, views.layer_rows(report, last),
                                   default_order="model order")
        self.slider.observe(lambda change: self.show_step(change["new"]), names="value")
        self._caption(last)
        self.widget = W.VBox([self.heatmap, self.slider, self.bars, self.caption,
                              self.table.widget, self.readings])

    def _caption(self, update: int) -> None:
        self.caption.value = f"<h4>Layers at {escape(self.report.outcome.updates[update].label)}</h4>"
        notes = views.layer_step_table(self.report, update).notes
        self.readings.value = "".join(f'<p class="nbgrad-note">{escape(n)}</p>' for n in notes)

    def show_step(self, update: int) -> None:
        data = self.figures.bars(update)
        if data is not None and isinstance(self.bars, W.Image):
            self.bars.value = data
        self.table.set_rows(views.layer_rows(self.report, update))
        self._caption(update)


class OptimizerTab:
    """Parameters that did not move on top, then each optimizer's hyperparameters and state."""

    def __init__(self, report: Report) -> None:
        run = report.run
        parts: list[W.Widget] = []
        moves = param_moves(report)
        unmoved = [m for m in moves if m.why_unmoved]
        if unmoved:
            parts.append(W.HTML(f"<h4>⚠ {plural(len(unmoved), 'parameter')} did not move</h4>"))
            self.unmoved = SortableTable(columns.UNMOVED, unmoved, default_order="model order",
                                         page_size=10)
            parts.append(self.unmoved.widget)
        elif report.outcome.updates:
            parts.append(W.HTML(f"<h4>✔ Every parameter ({len(moves)}) moved in a recorded "
                                f"{report.outcome.updates[0].kind}</h4>"))
        if not run.optimizers:
            parts.append(message("No optimizer was seen stepping in this run."))
        for opt in run.optimizers:
            head = (f"<h4>{escape(opt.type)} '{escape(opt.name)}': {plural(opt.steps, 'step')}"
                    f", {plural(len(opt.param_groups), 'param group')}</h4>")
            hyper = html_table(views.hyperparameter_table(opt), {"changed": "nbgrad-changed"})
            others = html_table(views.hyperparameter_table(opt, advanced=True))
            state = html_table(views.state_table(opt), {"created": "nbgrad-changed"})
            state = state or '<p class="nbgrad-note">No state buffers (this optimizer keeps none).</p>'
            advanced = folded("Advanced: settings that did not change, and the optimizer's "
                              "state buffers", (f"<b>Settings that did not change</b>{others}"
                                                if others else "")
                              + "<b>State buffers over all parameters</b>" + state)
            parts.append(W.HTML(head + "<b>Hyperparameters, before -> after</b>" + hyper
                                + advanced))
        shown = [c for c in columns.PARAM  # drop columns that would say the same on every row
                 if c.key != "layer"
                 and (c.key != "optimizer" or len({m.optimizer for m in moves}) > 1)
                 and (c.key != "buffers" or any(m.buffers for m in moves))]
        self.params = SortableTable(shown, moves, default_order="did not move first")
        if moves:
            parts += [W.HTML("<h4>Every parameter</h4>"), self.params.widget]
        self.widget = W.VBox(parts)


class LossTab:
    def __init__(self, report: Report, figures: FigureSet) -> None:
        updates = report.outcome.updates
        if not views.loss_points(updates):
            self.widget: W.Widget = message("No loss was recorded (backward() was not called on a "
                                            "loss during a recorded step).")
            return
        several = len({u.optimizer for u in updates}) > 1  # one optimizer: the column says nothing
        shown = [c for c in columns.LOSS if c.key != "optimizer" or several]
        table = html_table(Table.of(shown, updates))
        self.widget = W.VBox([image(figures.get("loss")),
                              W.HTML(f'<div class="nbgrad-scroll">{table}</div>')])


class ActivationsTab:
    def __init__(self, report: Report, figures: FigureSet,
                 rows: list[ActivationRow] | None = None) -> None:
        rows = activation_rows(report.run) if rows is None else rows
        self.table = SortableTable(columns.ACTIVATION, rows, default_order="model order")
        self.widget = W.VBox([image(figures.get("activations")), self.table.widget])


def tabs(report: Report, figures: FigureSet) -> tuple[W.Tab, dict[str, Any]]:
    """The Tab widget and its parts by title (the Activations tab only when recorded)."""
    parts: dict[str, Any] = {"Gradients": GradientsTab(report, figures),
                             "Optimizer": OptimizerTab(report), "Loss": LossTab(report, figures)}
    recorded = activation_rows(report.run)
    if recorded:
        parts["Activations"] = ActivationsTab(report, figures, recorded)
    tab = W.Tab(children=[p.widget for p in parts.values()], titles=list(parts))
    return tab, parts
