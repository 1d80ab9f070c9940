"""Golden text reports of a few zoo runs: the whole report, word for word, times masked.

A change to any rule's words, a table's columns or a number's format shows here as a diff a
reviewer reads. After an intended change, rewrite them with
`NBGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nbgrad.render import views
from tests import zoo_runs

GOLDEN = Path(__file__).parent / "golden"
RUNS = ["classic", "gan", "no_zero_grad", "sigmoid_deep", "step_never_called", "lr_zero"]


def masked(text: str) -> str:
    """The report without what differs from run to run: wall-clock times and copy sizes' times."""
    text = re.sub(r"\d+\.\d\d s\b", "<s> s", text)
    return re.sub(r"\d+ ms\b", "<ms> ms", text)


@pytest.mark.parametrize("name", RUNS)
def test_text_report_is_the_golden_one(name):
    text = masked(zoo_runs.report(name).to_text())
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("NBGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with NBGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def test_a_zero_fraction_outside_the_probe_windows_is_the_last_windows_value_marked_so():
    """With two optimizers the last update can fall outside the probe's windows, where no zero
    fraction is counted: the layer table shows the last measured window's value with its step
    (text, HTML and the dashboard alike), not a dash that reads as "no gradient"."""
    from nbgrad.numbers import fmt
    from nbgrad.render.widget import Dashboard
    from tests.rendered import NoFigures, html_tables, text_tables, widget_rows

    report = zoo_runs.report("gan")
    updates = report.outcome.updates
    last = updates[-1]
    assert all(s.grad_zero_fraction is None for s in last.record.layers.values())  # not a window
    window = max(i for i, u in enumerate(updates)
                 if all(s.grad_zero_fraction is not None for s in u.record.layers.values()))
    measured = {views.written(report.run, name): s.grad_zero_fraction
                for name, s in updates[window].record.layers.items()}
    text = report.to_text()
    table = text_tables(text)[f"Layers at {last.label}"]
    column = table[0].index("zero grad frac")
    assert [row[column] for row in table[1:]] == [
        f"{fmt(measured[row[0]])} ({updates[window].label})" for row in table[1:]]
    assert f"{last.label} was outside them, so it shows the value at {updates[window].label}" in text
    assert html_tables(report.to_html(figures=False))[f"Layers at {last.label}"] == table
    dash = Dashboard(report, NoFigures(report))
    assert widget_rows(dash.tab("Gradients").table) == table
    # at the window itself the value is its own, unmarked
    at_window = views.layer_step_table(report, window)
    assert [row[column] for row in at_window.rows] == [fmt(measured[row[0]]) for row in at_window.rows]
    dash.close()
