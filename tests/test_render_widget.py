"""The ipywidgets dashboard, built from real runs, driven as a person would (no frontend needed)."""

from __future__ import annotations

import re

import ipywidgets as W
import pytest

import nbgrad
from nbgrad.diagnose.diagnosis import Verification
from nbgrad.diagnose.fixes import corrected_cell, corrected_source, settle
from nbgrad.numbers import fmt
from nbgrad.records import ActivationRecord, ErrorInfo, Trial
from nbgrad.render import views
from nbgrad.render.bundle import WIDGET_MIME, mimebundle
from nbgrad.render.widget import Dashboard
from nbgrad.render.widget_table import Column, SortableTable
from nbgrad.report import Report
from tests.rendered import NoFigures
from tests.reports import BACKWARD_LINE, EVIL, clean_report, namespace, problem_report


def text_of(widget: W.Widget) -> str:
    """Every string a widget tree shows (HTML values, labels, descriptions, tab titles)."""
    parts = [str(getattr(widget, attr)) for attr in ("value", "description")
             if isinstance(getattr(widget, attr, None), str)]
    parts += [str(t) for t in getattr(widget, "titles", ())]
    for child in getattr(widget, "children", ()):
        parts.append(text_of(child))
    return "\n".join(parts)


def descendants(widget: W.Widget) -> list[W.Widget]:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += descendants(child)
    return out


@pytest.fixture
def dash() -> Dashboard:
    return Dashboard(problem_report())


def test_clean_run_verdict_and_tabs():
    d = Dashboard(clean_report())
    assert d.widget.children[1] is d.verdict  # the verdict comes first, before any tab
    assert "No problems found in 4 steps" in d.verdict.value
    assert d.rows == []
    assert isinstance(d.tabs, W.Tab) and d.tabs in d.widget.children
    assert list(d.tabs.titles) == ["Gradients", "Optimizer", "Loss", "Activations"]
    no_activations = clean_report()
    no_activations.run.forward.activations = []
    assert list(Dashboard(no_activations).tabs.titles) == ["Gradients", "Optimizer", "Loss"]


def test_problem_verdict_counts_errors_and_warnings_not_notes(dash):
    assert re.search(r"✖ 2 problems found", dash.verdict.value)
    assert len(dash.rows) == 3  # one row per diagnosis, notes included
    rows_box = dash.widget.children[2]
    assert list(rows_box.children) == [r.widget for r in dash.rows]


def test_each_row_shows_severity_word_icon_title_and_line(dash):
    error, warning, note = (r.summary.value for r in dash.rows)
    assert "✖ error" in error and "⚠ warning" in warning and "ℹ note" in note
    assert "Gradients accumulate in &lt;img src=x onerror=alert(1)&gt;" in error
    assert f"line {BACKWARD_LINE}: loss.backward()" in error
    assert "nbgrad-row-error" in dash.rows[0].widget._dom_classes


def test_evidence_and_fix_open_on_toggle(dash):
    row = dash.rows[0]
    assert row.details.layout.display == "none"
    row.toggle.value = True
    assert row.details.layout.display == ""
    shown = text_of(row.details)
    assert "gradient norm x2.0 per step" in shown and "Clear the gradients." in shown
    assert "optimizer.zero_grad()" in shown
    row.toggle.value = False
    assert row.details.layout.display == "none"


def _tried(report: Report, index: int, error: ErrorInfo | None = None) -> None:
    """Give diagnosis `index` the verification of a trial of its corrected cell."""
    d = report.diagnoses[index]
    trial = Trial(label=d.code, source=corrected_source(report.run, [d]), changed=[d.line or 1],
                  change="a line put before line 5", steps_requested=4,
                  stopped_by="error" if error else "steps", elapsed_s=0.1,
                  losses=[] if error else [1.0, 0.5], error=error)
    d.verification = Verification(trial=trial, original_losses=[1.0, 2.0], resolved=not error,
                                  improved=not error, verdict="Tried: it trains.")


def test_fix_button_offers_the_corrected_cell_only_once_it_ran(shell):
    report = problem_report()
    settle(report.run, report.diagnoses)
    assert report.diagnoses[0].edits  # a fix as code: proposed...
    assert Dashboard(report, NoFigures(report)).rows[0].fix_button is None  # ...not yet offered
    _tried(report, 0)
    dash = Dashboard(report, NoFigures(report))
    row = dash.rows[0]
    assert row.fix_button is not None and dash.rows[1].fix_button is None  # no code, no button
    shell.rl_next_input = None
    row.fix_button.click()
    expected = corrected_cell(dash.report.run, row.diagnosis)
    assert shell.rl_next_input == expected == row.diagnosis.verification.trial.source
    lines = expected.splitlines()
    assert lines[BACKWARD_LINE - 1].strip() == "# nbgrad NBG101 grads-accumulate: suggested fix"
    assert lines[BACKWARD_LINE].strip() == "optimizer.zero_grad()"
    assert lines[BACKWARD_LINE + 1].strip() == "loss.backward()"
    assert "new cell" in row.status.value and "Your cell is unchanged" in row.status.value


def test_a_corrected_cell_that_raised_is_not_offered():
    report = problem_report()
    settle(report.run, report.diagnoses)
    _tried(report, 0, ErrorInfo("NameError", "name 'optimizer' is not defined", 5))
    assert Dashboard(report, NoFigures(report)).rows[0].fix_button is None


def test_gradient_table_sorts_by_value_with_no_grad_first(dash):
    table = dash.tab("Gradients").table
    assert [r.name for r in table.visible_rows()] == list(dash.report.run.layers)  # model order
    table.sort_by.value = "grad_norm"
    rows = table.visible_rows()
    assert rows[0].name == "unused" and rows[0].grad_norm is None
    values = [r.grad_norm for r in rows[1:]]
    assert values == sorted(values)
    table.order.value = "desc"
    rows = table.visible_rows()
    assert rows[0].name == "unused"
    assert [r.grad_norm for r in rows[1:]] == sorted(values, reverse=True)
    assert "grad norm ▼" in table.body.value
    assert ">no grad<" in table.body.value  # shown as such, not as 0


def test_slider_changes_bars_and_table(dash):
    tab = dash.tab("Gradients")
    last = tab.bars.value
    assert tab.slider.value == 3 and "step 3" in tab.caption.value
    tab.slider.value = 0
    assert tab.bars.value == dash.figures.bars(0) and tab.bars.value != last
    assert "step 0" in tab.caption.value
    run = dash.report.run
    by_name = {r.name: r for r in tab.table.rows}
    assert by_name["body.0"].grad_norm == run.steps[0].layers["body.0"].grad_norm
    assert by_name["body.0"].grad_norm != run.steps[3].layers["body.0"].grad_norm


def test_optimizer_tab_puts_unmoved_params_first_with_the_reason(dash):
    tab = dash.tab("Optimizer")
    first = tab.widget.children[0].value
    assert "2 parameters did not move" in first
    assert [r.name for r in tab.unmoved.rows] == ["unused.weight", "unused.bias"]
    assert "never got a gradient" in tab.unmoved.body.value
    shown = text_of(tab.widget)
    assert "Adam 'optimizer': 4 steps" in shown
    assert "exp_avg" in shown and "created" in shown and "lr" in shown
    assert [r.name for r in tab.params.visible_rows()[:2]] == ["unused.weight", "unused.bias"]


def test_loss_tab_lists_every_backward_call(dash):
    shown = text_of(dash.tab("Loss").widget)
    step0 = dash.report.run.steps[0]
    assert len(step0.losses) == 2
    assert ", ".join(fmt(v) for v in step0.losses) in shown
    assert any(isinstance(w, W.Image) and w.value[:4] == b"\x89PNG"
               for w in descendants(dash.tab("Loss").widget))


def test_activations_tab_only_when_recorded():
    report = clean_report()

    def act(**fields):
        base = dict(layer="", source="function", after="", line=5, numel=64, units=8,
                    samples_per_unit=8)
        return ActivationRecord(**{**base, **fields})

    report.run.forward.activations = [
        act(kind="tanh", after="body.0", step=0, saturated_fraction=0.25),
        act(kind="tanh", after="body.0", step=3, saturated_fraction=0.75),
        act(kind="relu", layer="head", source="module", step=3, dead_units=2),
    ]
    d = Dashboard(report)
    assert list(d.tabs.titles)[-1] == "Activations"
    rows = d.tab("Activations").table.rows
    assert [(r.layer, r.kind, r.saturated_fraction, r.dead_fraction, r.step) for r in rows] == [
        ("body.0", "tanh", 0.75, None, 3), ("head", "relu", None, 0.25, 3)]  # latest step wins
    # a relu does not saturate, a tanh's dead units are not counted, neither slope was recorded:
    # n/a, never 0
    assert d.tab("Activations").table.body.value.count(">n/a<") == 4


def test_every_user_string_is_escaped(dash):
    for widget in descendants(dash.widget):
        value = getattr(widget, "value", None)
        if isinstance(value, str) and not value.startswith("<style>"):
            assert EVIL not in value, widget


def test_long_names_are_cut_with_the_full_name_on_hover_and_rows_paged():
    rows = [views.LayerRow(f"encoder.blocks.{i}.attention.output.projection.dense", "Linear",
                           float(i + 1), 1.0, 0.1, 0.1, 0.0) for i in range(45)]
    columns = [Column("name", "layer", name=True), Column("grad_norm", "grad norm", numeric=True)]
    table = SortableTable(columns, rows, page_size=20)
    assert len(table.visible_rows()) == 20
    assert table.page_label.value == "rows 1-20 of 45"
    full = rows[0].name
    assert f'title="{full}"' in table.body.value and f">{full}<" not in table.body.value
    table.next.click()
    table.next.click()
    assert table.page_label.value == "rows 41-45 of 45" and table.next.disabled
    table.sort_by.value = "grad_norm"  # a new order starts at the first page
    assert table.page == 0 and table.visible_rows()[0].grad_norm == 1.0


def test_bundle_holds_widget_view_static_html_and_text():
    report = problem_report()
    bundle = mimebundle(report, widget=True)
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    model_id = bundle[WIDGET_MIME]["model_id"]
    from ipywidgets.widgets.widget import _instances  # the live widgets by model id

    root = _instances[model_id]
    assert "nbgrad-dashboard" in root._dom_classes
    assert bundle["text/plain"] == report.to_text()
    # heat map, bars, loss, activations
    assert bundle["text/html"].count('src="data:image/png;base64,') == 4


def test_outside_a_kernel_the_report_displays_without_widget(shell):
    bundle = problem_report()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "2 problems found" in bundle["text/html"]


def test_a_changed_hyperparameter_is_marked():
    source = ("model = nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)\n"
              "x = torch.randn(4, 3)\nfor i in range(100):\n    opt.zero_grad()\n"
              "    model(x).sum().backward()\n    opt.step()\n    sched.step()\n")
    report = nbgrad.gradcheck(source, steps=3, namespace=namespace())
    shown = text_of(Dashboard(report).tab("Optimizer").widget)
    changed = re.findall(r"<tr><td>0</td><td>(\w+)</td><td>([^<]*)</td><td>([^<]*)</td>"
                         r'<td class="nbgrad-changed">changed</td></tr>', shown)
    # halved twice: the run stops in the third opt.step(), before its sched.step()
    assert changed == [("lr", "0.1", "0.025")]


def test_verdict_when_the_cell_raised_or_nbgrad_failed():
    source = ("model = nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "for i in range(100):\n    opt.zero_grad()\n"
              "    model(torch.randn(4, 3)).sum().backward()\n    opt.step()\n"
              "    if i == 1:\n        raise ValueError('bad batch')\n")
    with pytest.raises(ValueError, match="bad batch"):
        nbgrad.gradcheck(source, steps=5, namespace=namespace())
    verdict = Dashboard(nbgrad.last_report()).verdict.value
    assert "⚠ The cell raised ValueError after 2 steps; no problems found in them" in verdict
    assert "error at line 8: ValueError: bad batch" in verdict
    failed = Report(run=clean_report().run, analysis_error="RuntimeError: <boom>")
    verdict = Dashboard(failed).verdict.value
    assert "✖ nbgrad could not analyse this run" in verdict and "RuntimeError: &lt;boom&gt;" in verdict


def test_report_dashboard_is_the_widget_jupyter_shows():
    widget = problem_report().dashboard()
    assert isinstance(widget, W.VBox) and "nbgrad-dashboard" in widget._dom_classes


def test_a_cell_run_again_closes_the_dashboard_of_its_previous_run():
    from ipywidgets.widgets.widget import _instances

    from nbgrad.render.widget import displayed

    report = clean_report()
    first, second, other = (Dashboard(report, NoFigures(report)) for _ in range(3))
    ids = [w.model_id for w in descendants(first.widget)]
    assert len(ids) > 50 and all(i in _instances for i in ids)
    displayed(first, "cell-a")
    displayed(other, "cell-b")
    displayed(second, "cell-a")  # cell-a ran again: its output, the first dashboard, is replaced
    assert not any(i in _instances for i in ids)
    assert all(w.model_id in _instances for w in descendants(other.widget))
    displayed(third := Dashboard(report, NoFigures(report)), "cell-c", deleted=["cell-b"])
    assert not any(w.comm for w in descendants(other.widget))  # a deleted cell's too
    for d in (second, third):
        d.close()


@pytest.mark.notebook
def test_in_a_kernel_running_a_cell_again_keeps_one_dashboard_of_widgets():
    """JupyterLab names the cell in each execute request ("cellId"): a real kernel, driven with
    the messages JupyterLab sends, keeps one dashboard's widgets per cell, not one per run."""
    import os

    from jupyter_client.manager import start_new_kernel

    from tests.reports import SOURCE

    env = dict(os.environ, PYTHONPATH=str(__import__("pathlib").Path(__file__).parents[1]),
               OMP_NUM_THREADS="1")
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        def run(code: str, cell: str) -> dict:
            msg = client.session.msg("execute_request",
                                     {"code": code, "silent": False, "store_history": True,
                                      "user_expressions": {"n": "len(__import__('ipywidgets')"
                                                                 ".widgets.widget._instances)"},
                                      "allow_stdin": False, "stop_on_error": True},
                                     metadata={"cellId": cell, "deletedCells": []})
            client.shell_channel.send(msg)
            reply = client.get_shell_msg(timeout=120)
            while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                reply = client.get_shell_msg(timeout=120)  # an earlier request's reply
            assert reply["content"]["status"] == "ok", reply["content"]
            return reply["content"]["user_expressions"]["n"]["data"]["text/plain"]

        run("%load_ext nbgrad\nimport torch\nfrom torch import nn", "setup")
        counts = [int(run(f"%%gradcheck --steps 3\n{SOURCE}", "cell-1")) for _ in range(3)]
        assert counts[0] > 100  # a dashboard's worth of widgets (and the progress bar's)
        # each run again replaces the dashboard: what stays is the progress bar's layout and
        # style models (5), not another dashboard (over 100)
        assert counts[2] - counts[1] == counts[1] - counts[0] <= 5, counts
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
