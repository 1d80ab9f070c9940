"""The "loss does not fall" note (NBG701) against the fix nbgrad itself advises.

For lr=1e-7 nbgrad advises a larger learning rate; the loss then falls by a few percent in ten
steps, at every step. That is slow learning, and a note that the targets may carry no pattern would
send a student after a bug that is not there. The note is kept for a loss that stopped falling and,
where the loss function says what chance is, sits at chance level.
"""

from __future__ import annotations

import itertools
import math

import pytest

import nbgrad
from nbgrad.diagnose.rules import loss_trend
from nbgrad.records import LossCall, TensorSummary
from tests import zoo_runs
from tests.test_rules_units import make_run

# the loss of the beginner cell at lr=1e-3, step by step (measured, rounded to 4 digits)
STEADY = [0.7204, 0.7171, 0.7138, 0.7106, 0.7074, 0.7043, 0.7012, 0.6981, 0.6951, 0.6921]
NOISY = [2.0, 2.01, 1.99, 2.0, 2.02, 1.98, 2.0, 1.99, 2.0]


def test_a_loss_that_falls_at_every_step_is_not_flat_however_slowly():
    assert (STEADY[0] - STEADY[-1]) / STEADY[0] < 0.05  # under the 5% "not decreasing" bound
    assert loss_trend.loss_trend(make_run(STEADY, ratio=2e-3)) == []
    # the same values in an order with no trend: that is the flat loss the note is for
    shuffled = [0.7106, 0.6921, 0.7204, 0.7012, 0.7043, 0.6951, 0.7138, 0.6981, 0.7074, 0.7171]
    (d,) = loss_trend.loss_trend(make_run(shuffled, ratio=2e-3))
    assert d.code == "NBG701"


def test_the_flat_note_says_how_often_noise_falls_that_much():
    (d,) = loss_trend.loss_trend(make_run(NOISY, ratio=1e-2))
    assert d.title == "The loss fell by less than 5% in 9 steps"  # no chance level known
    # last 5 values 2.02, 1.98, 2.0, 1.99, 2.0: 5 of 10 pairs fall; of the 120 orders of 5 values,
    # 71 have 5 or more falling pairs
    assert d.evidence[1].text == ("over the last 5 steps it goes down and up with no steady fall: "
                                  "in 5 of their 10 pairs the later loss is lower, which noise "
                                  "with no trend gives 59% of the time (a steady fall: nearly all "
                                  "10)")
    assert d.evidence[1].value == pytest.approx(71 / 120)


def test_kendalls_test_is_exact_for_few_steps_and_normal_for_many():
    assert loss_trend._falling_pairs([9, 9, 9, 9, 9, 5, 4, 3, 2, 1]) == (10, 10, 1 / 120)
    assert loss_trend._falling_pairs([0, 0, 0, 1, 2, 3, 4]) == (0, 6, 1.0)
    # 12 values, 48 of 66 pairs falling: Mann's normal approximation, the count of falls has mean
    # 33 and spread sqrt(12 * 11 * 29 / 72) = 7.29, z = (48 - 33 - 0.5) / 7.29 = 1.99
    falls, pairs, p = loss_trend._falling_pairs([0] * 12 + [12, 11, 10, 9, 8, 4, 1, 2, 3, 5, 6, 7])
    assert (falls, pairs) == (48, 66)
    assert p == pytest.approx(1 - 0.9767, abs=2e-4)  # 1 - Phi(1.99), from a normal table


def _with_loss(run, call: LossCall):
    run.forward.windows = [run.steps[0].index, run.steps[-1].index]
    run.forward.losses.append(call)
    return run


def _cross_entropy(value: float, step: int) -> LossCall:
    return LossCall("cross_entropy", step, 5, "", [32, 3], [32], "int64", classes=3, value=value)


def test_a_flat_loss_at_chance_says_so_and_a_plateau_below_chance_gets_no_note():
    chance = math.log(3)
    at_chance = [chance * v / 2 for v in NOISY]
    (d,) = loss_trend.loss_trend(_with_loss(make_run(at_chance, ratio=1e-2),
                                            _cross_entropy(at_chance[-1], 8)))
    assert d.title == "The loss fell by less than 5% in 9 steps and stays at chance level"
    assert d.evidence[2].text == ("predictions spread evenly over the 3 classes score ln(3) = "
                                  "1.099; the last third's mean loss is 0.9983x that: chance "
                                  "level, as if the model had learned nothing")
    # the same noise on a plateau at half of chance: the model learned a pattern, then stalled
    plateau = [v / 2 for v in at_chance]
    assert loss_trend.loss_trend(_with_loss(make_run(plateau, ratio=1e-2),
                                            _cross_entropy(plateau[-1], 8))) == []
    # a loss call that is not the loss stepped on (a penalty added to it): chance is not known
    (d,) = loss_trend.loss_trend(_with_loss(make_run(plateau, ratio=1e-2),
                                            _cross_entropy(plateau[-1] * 0.9, 8)))
    assert not d.title.endswith("chance level")


def test_chance_of_a_regression_and_a_binary_loss_is_their_best_constant_prediction():
    mse = LossCall("mse_loss", 0, 5, "", [64, 1], [64, 1], "float32",
                   target=TensorSummary([64, 1], "float32", mean=0.5, std=2.0, min=-4, max=5))
    assert loss_trend._chance_of(mse) == (4.0, "predicting the targets' mean (0.5) for every "
                                               "sample scores 4, their variance")
    bce = LossCall("binary_cross_entropy_with_logits", 0, 5, "", [64], [64], "float32",
                   target=TensorSummary([64], "float32", mean=0.25, std=0.43, min=0, max=1))
    level, _ = loss_trend._chance_of(bce)
    assert level == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    several = LossCall("mse_loss", 0, 5, "", [64, 3], [64, 3], "float32",
                       target=TensorSummary([64, 3], "float32", mean=0.5, std=2.0))
    assert loss_trend._chance_of(several) is None  # the overall variance is not per output
    summed = LossCall("cross_entropy", 0, 5, "", [32, 3], [32], "int64", classes=3,
                      reduction="sum")
    assert loss_trend._chance_of(summed) is None


@pytest.mark.parametrize("variant", [0, 1])
def test_the_beginner_loop_at_a_small_learning_rate_gets_no_note_at_all(variant):
    report = zoo_runs.report("small_lr_steady_fall", variant)
    losses = [s.losses[0] for s in report.run.steps]
    assert len(losses) == 10 and all(b < a for a, b in itertools.pairwise(losses))
    assert (losses[0] - losses[-1]) / losses[0] < 0.05  # a few percent: what the old note judged
    assert report.diagnoses == []


@pytest.mark.parametrize("variant", [0, 1])
def test_targets_shuffled_apart_still_get_the_note_at_chance_level(variant):
    report = zoo_runs.report("targets_shuffled_apart", variant)
    (d,) = [d for d in report.diagnoses if d.code == "NBG701"]
    assert d.title == "The loss fell by less than 5% in 20 steps and stays at chance level"
    target = report.run.forward.losses[-1].target
    assert d.evidence[2].value == pytest.approx(target.std ** 2)
    assert "their variance; the last third's mean loss is 1.00" in d.evidence[2].text


CELL = """%%gradcheck --steps 10
torch.manual_seed(0)
x = torch.randn(64, 10)
y = (x[:, :1] - 2 * x[:, 1:2]).tanh()
loss_fn = nn.MSELoss()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=1e-7)
for epoch in range(100):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
"""


def test_the_advised_learning_rate_leads_to_a_clean_report_not_a_false_lead(shell):
    shell.run_cell(CELL, store_history=False)
    (d,) = nbgrad.last_report().diagnoses
    assert (d.code, d.line) == ("NBG402", 7)  # the line as the notebook numbers it
    advised = d.fix_code
    assert advised == "optimizer = torch.optim.SGD(model.parameters(), lr=0.0001)"
    for lr in ("lr=0.0001", "lr=1e-3"):  # the fix as advised, and the rate a student tries next
        shell.run_cell(CELL.replace("lr=1e-7", lr), store_history=False)
        report = nbgrad.last_report()
        losses = [s.losses[0] for s in report.run.steps]
        assert all(b < a for a, b in itertools.pairwise(losses)), lr
        assert report.diagnoses == [], lr
        assert "pattern" not in report.to_text() and "paired" not in report.to_text()
