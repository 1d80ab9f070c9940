"""The plots a class reads: noise drawn as small as it is, and log axes with numbers to read.

Checked on the figures as drawn (matplotlib's Agg canvas), through the report and the card the
student sees, with the axis limits and tick labels asserted.
"""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nbgrad.diagnose.comparison import Comparison
from nbgrad.render import card, figures
from tests import zoo_runs

NOISY = [1.065, 1.095, 1.07, 1.09, 1.08, 1.066, 1.094, 1.075, 1.085, 1.08]  # 2.8% of the level
FALLING = [2.3, 1.8, 1.45, 1.2, 1.0, 0.88, 0.78, 0.7, 0.64, 0.6]


def _loss_axis(losses: list[float]) -> Any:
    """The loss figure of a real run (the zoo's classic loop) whose step losses are `losses`."""
    report = zoo_runs.report("classic")
    assert len(report.run.steps) == len(losses)
    for step, value in zip(report.run.steps, losses, strict=True):
        step.losses = [value]
    fig = figures.loss_curve(report)
    assert fig is not None
    FigureCanvasAgg(fig).draw()
    return fig.axes[0]


def test_noise_of_a_few_percent_fills_a_small_part_of_the_loss_plot():
    ax = _loss_axis(NOISY)
    bottom, top = ax.get_ylim()
    # the range is widened to 20% of the loss's size (1.095) about the middle (1.08), plus 5% margins
    assert (bottom, top) == pytest.approx((1.08 - 0.1095 - 0.01095, 1.08 + 0.1095 + 0.01095))
    assert (max(NOISY) - min(NOISY)) / (top - bottom) < 0.25  # not wild oscillation
    assert ax.get_yscale() == "linear"


def test_a_clearly_falling_loss_keeps_its_own_range():
    ax = _loss_axis(FALLING)
    bottom, top = ax.get_ylim()
    assert (bottom, top) == pytest.approx((0.6 - 0.085, 2.3 + 0.085))  # matplotlib's 5% margins
    assert ax.get_yscale() == "linear"


def test_the_loss_limits_rule_on_negative_and_constant_losses():
    # a loss that is negative (a log-likelihood): 20% of its size, 2.01, about the middle, -2
    assert figures.loss_limits([-2.0, -2.01, -1.99]) == pytest.approx((-2.2211, -1.7789))
    assert figures.loss_limits([0.5, 0.5]) == pytest.approx((0.445, 0.555))
    assert figures.loss_limits([0.0, 0.0]) == pytest.approx((-0.55, 0.55))


def _comparison(before_grad: list[float], after_grad: list[float],
                before: list[float], after: list[float]) -> Comparison:
    return Comparison(["the loss fell from 1.08 to 1.08"], "a cause (line 3)", "the fix", None,
                      "loss 1.08 → 0.5", True, True, before, after, "model[0]", before_grad,
                      after_grad, "your cell", "with the fix")


def _labelled(ax: Any) -> list[tuple[float, str]]:
    """(value, label) of the y-ticks drawn with a label inside the axis."""
    FigureCanvasAgg(ax.figure).draw()
    bottom, top = ax.get_ylim()
    return [(t.get_loc(), t.label1.get_text()) for t in ax.yaxis.get_major_ticks()
            if bottom <= t.get_loc() <= top and t.label1.get_visible() and t.label1.get_text()]


def test_the_card_draws_the_loss_on_the_same_rule():
    fig = card.figure(_comparison([0.5, 0.6], [0.5, 0.4], NOISY, FALLING))
    assert fig is not None
    assert fig.axes[0].get_ylim() == pytest.approx(figures.loss_limits(NOISY + FALLING))
    fig = card.figure(_comparison([0.5, 0.6], [0.5, 0.4], NOISY, NOISY[::-1]))
    bottom, top = fig.axes[0].get_ylim()
    assert (max(NOISY) - min(NOISY)) / (top - bottom) < 0.25


@pytest.mark.parametrize("before, after", [
    ([0.01, 0.012, 0.013], [0.01, 0.009, 0.008]),  # 0.0053-0.0195 holds one 1-2-5 number: 0.01
    ([0.31, 0.33, 0.36], [0.31, 0.3, 0.29]),  # 0.19-0.54: 0.2 and 0.5 only
    ([5e-4, 2.4e-3, 9e-3], [5e-4, 4e-4, 3e-4]),  # a wider range keeps the 1-2-5 log ticks
])
def test_the_cards_log_gradient_axis_always_has_two_labelled_values(before, after):
    fig = card.figure(_comparison(before, after, FALLING, FALLING[::-1]))
    assert fig is not None
    ax = fig.axes[1]
    assert ax.get_yscale() == "log"
    ticks = _labelled(ax)
    assert len(ticks) >= 2, ticks
    for value, label in ticks:  # each label is the number at its place, as a student reads it
        assert float(label) == pytest.approx(value, rel=1e-9), label


def test_the_gradient_figures_get_the_same_log_ticks():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.set_yscale("log")
    ax.plot([0, 1], [0.0053, 0.0195])
    ax.set_ylim(0.0053, 0.0195)
    figures._log_ticks(ax.yaxis, 0.0053, 0.0195)
    assert [label for _, label in _labelled(ax)] == ["0.01", "0.015"]
    ax.set_ylim(5e-6, 2.0)
    figures._log_ticks(ax.yaxis, 5e-6, 2.0)
    assert [label for _, label in _labelled(ax)] == ["1e-5", "1e-4", "0.001", "0.01", "0.1", "1"]


def test_the_cards_steps_are_whole_numbers():
    fig = card.figure(_comparison([0.5, 0.6, 0.7], [0.5, 0.4, 0.3], [1.0, 0.9, 0.8], [1.0, 0.7, 0.5]))
    assert fig is not None
    for ax in fig.axes:
        FigureCanvasAgg(fig).draw()
        left, right = ax.get_xlim()
        labels = [t.label1.get_text() for t in ax.xaxis.get_major_ticks()
                  if left <= t.get_loc() <= right and t.label1.get_text()]
        assert labels == ["0", "1", "2"], labels
