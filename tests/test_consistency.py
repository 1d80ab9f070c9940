"""Every view of one run says the same: text, static HTML and the widget dashboard of every zoo run
show one verdict, one count of steps, and the same numbers in the same tables.

The views format the report's outcome and the records through one set of columns; these tests
read what each view actually shows and compare them, so a view that decides or formats on its own
is caught on 108 real runs.
"""

from __future__ import annotations

from html import escape

import pytest

import nbgrad
from nbgrad.render.style import STATUS_ICON
from nbgrad.render.widget import Dashboard
from tests import zoo, zoo_runs
from tests.rendered import NoFigures, html_tables, text_tables, widget_rows

ALL = sorted(zoo.CORRECT) + sorted(zoo.BROKEN)


def assert_views_agree(report: nbgrad.Report) -> None:
    outcome = report.outcome
    text, html = report.to_text(), report.to_html(figures=False)
    dash = Dashboard(report, NoFigures(report))
    # one verdict: the text's first line, the HTML's heading, the dashboard's headline
    assert outcome.verdict.startswith(outcome.headline)
    assert text.splitlines()[0] == f"nbgrad: {outcome.verdict}"
    assert f'<div class="nbgrad-verdict">nbgrad: {escape(outcome.verdict)}</div>' in html
    assert dash.verdict.value.startswith(
        f'<div class="nbgrad-verdict">{STATUS_ICON[outcome.status]} {escape(outcome.headline)}')
    for line in outcome.summary:  # the same run summary under it
        assert line in text and escape(line) in html and escape(line) in dash.verdict.value
    # every table of the text report is the HTML's table of that title, cell for cell
    texts, htmls = text_tables(text), html_tables(html)
    assert ("Gradient norm per layer" in texts) == bool(outcome.updates), text
    for title, rows in texts.items():
        assert htmls.get(title) == rows, title
    # one count of updates: the gradient table's columns, the slider, the table at the last one
    updates = outcome.updates
    gradients = dash.tab("Gradients")
    if updates:
        steps = texts["Gradient norm per layer"][0][2:]
        assert len(steps) == min(len(updates), 10) and steps[-1].startswith(updates[-1].label)
        assert gradients.slider.max == len(updates) - 1
        assert widget_rows(gradients.table) == texts[f"Layers at {updates[-1].label}"]
    if outcome.unmoved:
        assert widget_rows(dash.tab("Optimizer").unmoved) == texts["Parameters that did not move"]
    if "Activations" in texts:
        assert widget_rows(dash.tab("Activations").table) == texts["Activations"]
    # each diagnosis: its title in every view
    for d, row in zip(report.diagnoses, dash.rows):
        assert d.title in text and escape(d.title) in html and escape(d.title) in row.summary.value
    dash.close()


@pytest.mark.parametrize("name", ALL)
def test_every_view_of_a_zoo_run_agrees(name):
    assert_views_agree(zoo_runs.report(name))


MANUAL_SGD = """\
torch.manual_seed(0)
w = torch.randn(4, 1, requires_grad=True)
x, y = torch.randn(16, 4), torch.randn(16, 1)
for i in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
"""


def test_manual_sgd_reads_the_same_in_the_dashboard_and_the_text(check):
    report = check(MANUAL_SGD, steps=10)
    assert report.outcome.headline == "No optimizer was used: 3 manual updates seen"
    assert report.verdict.startswith(report.outcome.headline)
    dash = Dashboard(report, NoFigures(report))
    assert "No optimizer step was seen" not in dash.verdict.value + report.to_text()
    assert "✔ No optimizer was used: 3 manual updates seen" in dash.verdict.value
    (move,) = dash.tab("Optimizer").params.rows
    assert (move.name, move.steps_moved, move.steps_seen, move.why_unmoved) == ("w", 3, 3, "")
    assert "3 manual updates recorded of 10 requested" in report.to_text()
    assert_views_agree(report)
    # JSON keeps the records, not the outcome: a loaded report decides the same outcome again
    assert "outcome" not in report.to_json()
    assert nbgrad.Report.from_json(report.to_json()).outcome == report.outcome


def test_a_gan_reports_the_loss_of_each_optimizer_on_its_own():
    report = zoo_runs.report("gan")
    run, outcome = report.run, report.outcome
    assert [s.owner for s in outcome.losses] == ["opt_d", "opt_g"]
    for series in outcome.losses:
        own = [s for s in run.steps if run.optimizers[s.optimizer].name == series.owner]
        assert series.steps == [s.index for s in own]
        assert series.values == [sum(s.losses) / len(s.losses) for s in own]
    summary = "\n".join(outcome.summary)
    assert "20 optimizer steps recorded, 10 requested of each of the 2 optimizers ('opt_d' 10, " \
           "'opt_g' 10)" in summary
    d, g = outcome.losses
    assert f"loss of 'opt_d': {nbgrad.numbers.fmt(d.values[0])} at step 0 -> " \
           f"{nbgrad.numbers.fmt(d.values[-1])} at step 18" in summary
    assert f"loss of 'opt_g': {nbgrad.numbers.fmt(g.values[0])} at step 1" in summary


def test_the_gradient_table_shows_every_step_of_a_default_run_and_says_what_it_leaves_out():
    report = zoo_runs.report("classic")
    table = text_tables(report.to_text())["Gradient norm per layer"]
    assert table[0][2:] == [f"step {i}" for i in range(10)]
    long = zoo_runs.run(zoo.CORRECT["classic"], zoo.VARIANTS[0], steps=14)
    text = long.to_text()
    header = text_tables(text)["Gradient norm per layer"][0][2:]
    assert len(header) == 10 and header[0] == "step 0" and header[-1] == "step 13"
    shown = ", ".join(h.split()[1] for h in header)
    assert f"(10 of 14 steps shown: {shown}; the others are in the dashboard's heat map" in text


def test_a_step_counter_reads_as_its_value_not_as_a_norm():
    report = zoo_runs.report("adamw_clip")
    state = text_tables(report.to_text(advanced=True))["AdamW 'opt': state"]
    (step,) = [row for row in state if row[0] == "step"]
    assert step[1:] == ["absent", "10 on 6 params", "created"]
