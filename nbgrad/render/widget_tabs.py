"""The dashboard's tabs: Gradients, Optimizer, Loss, Activations, each from views and figures."""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as W

from nbgrad.records import Run
from nbgrad.render import views
from nbgrad.render.activations import ActivationRow, activation_rows
from nbgrad.render.figures import FigureSet
from nbgrad.render.moves import ParamMove, param_moves
from nbgrad.render.views import Table
from nbgrad.render.widget_table import Column, SortableTable


def image(data: bytes | None) -> W.Widget:
    if data is None:
        return W.HTML('<span class="nbgrad-missing">nothing to plot</span>')
    return W.Image(value=data, format="png").add_class("nbgrad-figure")


def html_table(t: Table, marks: dict[str, str] | None = None) -> str:
    """A small fixed table (hyperparameters, state buffers); `marks` styles flagged cells."""
    if not t.rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = ""
    for row in t.rows:
        cells = []
        for c in row:
            mark = (marks or {}).get(c)
            cells.append(f'<td class="{mark}">{escape(c)}</td>' if mark else f"<td>{escape(c)}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    return f'<table class="nbgrad-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def message(text: str) -> W.HTML:
    return W.HTML(f'<p class="nbgrad-note">{escape(text)}</p>')


LAYER_TABLE = [
    Column("name", "layer", name=True), Column("type", "type"),
    Column("grad_norm", "grad norm", missing=views.NO_GRAD, numeric=True),
    Column("param_norm", "param norm", numeric=True),
    Column("update_norm", "update norm", missing="not stepped", numeric=True),
    Column("update_to_param_ratio", "update/param", numeric=True),
    Column("grad_zero_fraction", "zero grad frac", numeric=True),
]


class GradientsTab:
    """Heat map of every step, then bars and the sortable table of the step the slider picks."""

    def __init__(self, run: Run, figures: FigureSet) -> None:
        self.run, self.figures = run, figures
        if not run.steps:
            self.widget: W.Widget = message(
                "No optimizer step was recorded, so there are no gradients to show.")
            return
        last = len(run.steps) - 1
        self.heatmap = image(figures.get("heatmap"))
        self.slider = W.IntSlider(value=last, min=0, max=last, description="step",
                                  continuous_update=False, disabled=last == 0)
        self.bars = image(figures.bars(last))
        self.caption = W.HTML()
        self.table = SortableTable(LAYER_TABLE, views.layer_rows(run, last),
                                   default_order="model order")
        self.slider.observe(lambda change: self.show_step(change["new"]), names="value")
        self._caption(last)
        self.widget = W.VBox([self.heatmap, self.slider, self.bars, self.caption,
                              self.table.widget])

    def _caption(self, step: int) -> None:
        index = self.run.steps[step].index
        self.caption.value = f"<h4>Layers at step {index}</h4>"

    def show_step(self, step: int) -> None:
        data = self.figures.bars(step)
        if data is not None and isinstance(self.bars, W.Image):
            self.bars.value = data
        self.table.set_rows(views.layer_rows(self.run, step))
        self._caption(step)


def _moved(m: ParamMove) -> str:
    return f"{m.steps_moved} of {m.steps_seen}"


def _why(m: ParamMove) -> str:
    return f"<b>{escape(m.why_unmoved)}</b>" if m.why_unmoved else "moved"


PARAM_TABLE = [
    Column("name", "parameter", name=True), Column("optimizer", "optimizer", missing="none"),
    Column("why_unmoved", "moved?", show=_why),
    Column("steps_moved", "steps that moved it", show=_moved, numeric=True),
    Column("path_length", "distance (sum of updates)", numeric=True),
    Column("last_ratio", "last update/param", numeric=True),
    Column("buffers", "state buffers before -> after",
           show=lambda m: "<br>".join(escape(b) for b in m.buffers) or "—"),
]


class OptimizerTab:
    """Parameters that did not move on top, then each optimizer's hyperparameters and state."""

    def __init__(self, run: Run) -> None:
        parts: list[W.Widget] = []
        moves = param_moves(run)
        unmoved = [m for m in moves if m.why_unmoved]
        if unmoved:
            parts.append(W.HTML(f"<h4>⚠ {views.plural(len(unmoved), 'parameter')} did not move"
                                "</h4>"))
            self.unmoved = SortableTable(PARAM_TABLE[:3], unmoved, default_order="model order",
                                         page_size=10)
            parts.append(self.unmoved.widget)
        elif run.steps:
            parts.append(W.HTML(f"<h4>✔ Every parameter ({len(moves)}) moved in a recorded step"
                                "</h4>"))
        if not run.optimizers:
            parts.append(message("No optimizer was seen stepping in this run."))
        for opt in run.optimizers:
            head = (f"<h4>{escape(opt.type)} '{escape(opt.name)}': {views.plural(opt.steps, 'step')}"
                    f", {views.plural(len(opt.param_groups), 'param group')}</h4>")
            hyper = html_table(views.hyperparameter_table(opt), {"changed": "nbgrad-changed"})
            state = html_table(views.state_table(opt), {"created": "nbgrad-changed"})
            state = state or '<p class="nbgrad-note">No state buffers (this optimizer keeps none).</p>'
            parts.append(W.HTML(head + "<b>Hyperparameters, before -> after</b>" + hyper
                                + "<b>State buffers over all parameters</b>" + state))
        columns = [c for c in PARAM_TABLE  # drop columns that would say the same on every row
                   if (c.key != "optimizer" or len({m.optimizer for m in moves}) > 1)
                   and (c.key != "buffers" or any(m.buffers for m in moves))]
        self.params = SortableTable(columns, moves, default_order="did not move first")
        if moves:
            parts += [W.HTML("<h4>Every parameter</h4>"), self.params.widget]
        self.widget = W.VBox(parts)


class LossTab:
    def __init__(self, run: Run, figures: FigureSet) -> None:
        if not views.loss_points(run):
            self.widget: W.Widget = message("No loss was recorded (backward() was not called on a "
                                            "loss during a recorded step).")
            return
        rows = "".join(
            f'<tr><td class="num">{s.index}</td>'
            f'<td class="num">{escape(", ".join(views.fmt(v) for v in s.losses))}</td>'
            f'<td class="num">{s.backward_calls}</td>'
            f'<td class="num">{escape(", ".join(views.fmt(x) for x in s.lr))}</td></tr>'
            for s in run.steps)
        table = ('<div class="nbgrad-scroll"><table class="nbgrad-table"><thead><tr>'
                 '<th class="num">step</th><th class="num">loss (each backward call)</th>'
                 '<th class="num">backward calls</th><th class="num">lr per group</th>'
                 f"</tr></thead><tbody>{rows}</tbody></table></div>")
        self.widget = W.VBox([image(figures.get("loss")), W.HTML(table)])


ACTIVATION_TABLE = [
    Column("layer", "layer", name=True), Column("kind", "activation"),
    Column("saturated_fraction", "saturated fraction", missing="not measured", numeric=True),
    Column("dead_fraction", "dead fraction", missing="not measured", numeric=True),
    Column("mean_slope", "mean slope", missing="not measured", numeric=True),
    Column("step", "step", numeric=True),
]


class ActivationsTab:
    def __init__(self, run: Run, figures: FigureSet,
                 rows: list[ActivationRow] | None = None) -> None:
        rows = activation_rows(run) if rows is None else rows
        self.table = SortableTable(ACTIVATION_TABLE, rows, default_order="model order")
        self.widget = W.VBox([image(figures.get("activations")), self.table.widget])


def tabs(run: Run, figures: FigureSet) -> tuple[W.Tab, dict[str, Any]]:
    """The Tab widget and its parts by title (the Activations tab only when recorded)."""
    parts: dict[str, Any] = {"Gradients": GradientsTab(run, figures),
                             "Optimizer": OptimizerTab(run), "Loss": LossTab(run, figures)}
    recorded = activation_rows(run)
    if recorded:
        parts["Activations"] = ActivationsTab(run, figures, recorded)
    tab = W.Tab(children=[p.widget for p in parts.values()], titles=list(parts))
    return tab, parts
