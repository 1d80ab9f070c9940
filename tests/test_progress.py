"""The progress bar while %%gradcheck records: shown with a widget frontend, gone at the end."""

from __future__ import annotations

import re

import pytest
from IPython.utils.capture import capture_output

import nbgrad
from nbgrad.render import progress

CELL = """%%gradcheck --steps 3
for i in range(100):
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
"""


def setup(shell) -> None:
    shell.run_cell("model = nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                   "x = torch.randn(4, 3)")


def test_magic_drives_the_bar_step_by_step_and_closes_it(shell, monkeypatch):
    bars: list[progress.ProgressBar] = []
    seen: list[tuple[int, int, str]] = []

    class Recorded(progress.ProgressBar):
        def __init__(self, total: int) -> None:
            super().__init__(total)
            bars.append(self)

        def __call__(self, step: int, total: int) -> None:
            super().__call__(step, total)
            seen.append((self.bar.value, self.bar.max, self.label.value))

    monkeypatch.setattr(progress, "has_widget_frontend", lambda: True)
    monkeypatch.setattr(progress, "ProgressBar", Recorded)
    setup(shell)
    with capture_output():
        result = shell.run_cell(CELL)
    assert result.error_in_exec is None and result.result is nbgrad.last_report()
    assert [(v, m) for v, m, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert re.fullmatch(r"nbgrad: step 3 of 3 · \d+\.\d s", seen[-1][2])
    (bar,) = bars
    assert bar.widget.comm is None and bar.bar.comm is None  # closed: the dashboard takes over


def test_a_closed_bar_leaves_no_widget_model_in_the_kernel(monkeypatch):
    """Layouts and styles are widget models of their own: a bar that closed only its visible
    widgets left five models in the kernel per run."""
    from ipywidgets.widgets.widget import _instances

    monkeypatch.setattr(progress, "has_widget_frontend", lambda: True)
    before = set(_instances)
    with capture_output(), progress.progress_bar(3) as bar:
        assert bar is not None
        bar(1, 3)
        assert len(set(_instances) - before) >= 5  # bar, label, box and their layouts/styles
    assert set(_instances) - before == set()


def test_the_bar_is_closed_when_the_cell_raises(shell, monkeypatch):
    bars: list[progress.ProgressBar] = []

    class Recorded(progress.ProgressBar):
        def __init__(self, total: int) -> None:
            super().__init__(total)
            bars.append(self)

    monkeypatch.setattr(progress, "has_widget_frontend", lambda: True)
    monkeypatch.setattr(progress, "ProgressBar", Recorded)
    setup(shell)
    with capture_output():
        result = shell.run_cell(CELL.replace("opt.step()", "opt.step()\n    raise ValueError('x')"))
    assert isinstance(result.error_in_exec, ValueError)
    assert bars and bars[0].widget.comm is None


def test_no_widget_frontend_means_no_bar_and_no_extra_output(shell):
    setup(shell)
    with progress.progress_bar(3) as bar:
        assert bar is None  # a plain IPython shell has no kernel, hence no widget frontend
    with capture_output() as captured:
        shell.run_cell(CELL)
    assert captured.outputs == []  # nothing displayed but the result itself
    report = nbgrad.last_report()
    assert re.fullmatch(r"Out\[\d+\]: \n+", captured.stdout.replace(report.to_text(), "")), \
        captured.stdout


@pytest.mark.parametrize("warm_up_raises", [False, True])
def test_a_failing_warm_up_never_stops_the_cell(shell, monkeypatch, warm_up_raises):
    """`text.usetex` without LaTeX makes every matplotlib text drawing raise: the cell must still
    run and be reported, whether the warm-up draws around it or fails anyway."""
    import shutil

    import matplotlib

    from nbgrad.render import figures

    if shutil.which("latex"):
        monkeypatch.setenv("PATH", "")  # make LaTeX missing, as on the machine that found this
    monkeypatch.setattr(figures, "_WARM", [])  # the warm-up draws once per process
    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", True)
    monkeypatch.setattr(progress, "has_widget_frontend", lambda: True)
    if warm_up_raises:
        def failing() -> None:
            raise RuntimeError("latex could not be found")

        monkeypatch.setattr(figures, "warm_up", failing)
    setup(shell)
    with capture_output():
        result = shell.run_cell(CELL)
    assert result.error_in_exec is None
    report = nbgrad.last_report()
    assert result.result is report and len(report.run.steps) == 3
    assert report.run.stopped_by == "steps"


def test_a_bar_that_cannot_be_shown_means_no_bar(shell, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no widget manager")

    monkeypatch.setattr(progress, "has_widget_frontend", lambda: True)
    monkeypatch.setattr(progress.ProgressBar, "__init__", broken)
    with progress.progress_bar(3) as bar:
        assert bar is None
    setup(shell)
    with capture_output():
        result = shell.run_cell(CELL)
    assert result.error_in_exec is None and len(nbgrad.last_report().run.steps) == 3
