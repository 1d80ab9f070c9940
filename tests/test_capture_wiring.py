"""What the capture records for the wiring rules, checked against plain autograd by hand."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.records import Run
from tests import zoo

NO_ZERO_GRAD = """
torch.manual_seed(0)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(16, 4); y = torch.randn(16, 1)
while True:
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
"""


def _total(grads: list[torch.Tensor]) -> float:
    return math.sqrt(sum(g.norm().item() ** 2 for g in grads))


def test_leftover_and_fresh_gradient_norms_equal_plain_autograd(check):
    report = check(NO_ZERO_GRAD, steps=3)
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    stale, after = [], []
    for _ in range(3):
        held = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        stale.append(_total(held) if held else 0.0)
        ((model(x) - y) ** 2).mean().backward()
        after.append(_total([p.grad for p in model.parameters()]))
        opt.step()
    steps = report.run.steps
    assert [s.stale_grad_norm for s in steps] == pytest.approx(stale, rel=1e-5)
    assert [s.backward_grad_norm for s in steps] == pytest.approx(after, rel=1e-5)
    assert stale[0] == 0 and stale[1] > 0  # the first step had nothing left over, the second did


def test_leftovers_are_counted_per_stepping_optimizer_in_a_gan():
    """At D's backward G still holds its gradients from the G step: not D's leftover."""
    ns = {**zoo.VARIANTS[0], "torch": torch, "nn": nn}
    report = nbgrad.gradcheck(zoo.CORRECT["gan"], steps=3, namespace=ns)
    d_steps = [s for s in report.run.steps if s.optimizer == 0]
    assert [s.stale_grad_norm for s in d_steps[1:]] == [0.0, 0.0]
    assert all((s.grads_before_backward or 0) > 0 for s in d_steps[1:])  # G's, all params counted


def test_clip_grad_norm_is_recorded_with_the_norm_before_clipping(check):
    cell = NO_ZERO_GRAD.replace("    opt.step()", "    opt.zero_grad() if False else None\n"
                                "    total = torch.nn.utils.clip_grad_norm_(model.parameters(), "
                                "max_norm=0.01)\n    opt.step()")
    ns: dict = {}
    report = check(cell, namespace=ns, steps=2)
    clips = [e for e in report.run.events if e.kind == "clip"]
    assert [e.step for e in clips] == [0, 1]
    assert clips[-1].detail == "max_norm=0.01" and clips[-1].target == "clip_grad_norm_"
    assert clips[-1].value == pytest.approx(ns["total"].item(), rel=1e-6)
    assert clips[-1].line == zoo.line_of(cell, "clip_grad_norm_") + check.line_offset
    assert report.run.steps[-1].params["model.weight"].grad_norm <= 0.01 * (1 + 1e-5)


def test_grad_scaler_that_skips_every_step_stops_the_run(check):
    broken = zoo.BROKEN["grad_scaler_nan_data"]
    report = check(broken.source, namespace=dict(zoo.VARIANTS[0]), steps=4)
    run = report.run
    skips = [e for e in run.events if e.kind == "step_skipped"]
    assert run.steps == [] and run.stopped_by == "skipped"
    scales = [e.value for e in skips]
    assert scales[0] == 65536.0 and all(b == a / 2 for a, b in itertools.pairwise(scales))
    assert scales[-1] < 1.0 <= scales[-2]  # stopped once the scale fell below 1, not before
    assert "GradScaler kept skipping" in report.to_text()
    (nan,) = report.problems  # the NaN in the data, with the scaler's skips as its consequence
    assert nan.code == "NBG503" and "first in the input of model" in nan.title
    assert any("skipped" in e.text and "optimizer steps" in e.text for e in nan.evidence)


def test_grad_scaler_that_steps_records_no_skip(check):
    report = check(zoo.CORRECT["amp_grad_scaler"], namespace=dict(zoo.VARIANTS[0]), steps=3)
    assert len(report.run.steps) == 3
    assert not [e for e in report.run.events if e.kind == "step_skipped"]


def test_layers_know_when_and_where_they_first_ran(check):
    report = check(zoo.BROKEN["layer_made_in_forward"].source, namespace=dict(zoo.VARIANTS[0]),
                   steps=3)
    layers = report.run.layers
    made = [layers[n] for n in ("Linear", "Linear#2", "Linear#3")]
    line = zoo.line_of(zoo.BROKEN["layer_made_in_forward"].source, "return nn.Linear")
    assert [m.first_step for m in made] == [0, 1, 2]
    assert {m.forward_line for m in made} == {line + check.line_offset}
    assert layers["fc1"].forward_order < layers["fc2"].forward_order
    assert layers["fc3"].forward_order is None  # replaced by the layer made in forward


def test_modules_in_a_plain_list_are_named_by_it(check):
    report = check(zoo.BROKEN["layers_in_plain_list"].source, namespace=dict(zoo.VARIANTS[0]),
                   steps=2)
    layers = report.run.layers
    assert layers["model.hidden[0]"].container == "model.hidden"
    assert layers["model.hidden[1]"].params == ["model.hidden[1].weight", "model.hidden[1].bias"]
    assert layers["fc1"].container is None


def test_batch_fingerprint_tells_the_same_batch_from_another(check):
    same = check(NO_ZERO_GRAD, steps=3).run.steps
    assert same[0].batch_fingerprint == same[1].batch_fingerprint == same[2].batch_fingerprint
    torch.manual_seed(0)
    nn.Linear(4, 1)
    x = torch.randn(16, 4)
    # the sum and sum of squares of the first layer's input, then a position-weighted sum
    assert same[0].batch_fingerprint[:2] == pytest.approx([x.sum().item(),
                                                           x.square().sum().item()], rel=1e-5)
    assert len(same[0].batch_fingerprint) == 3
    moving = check(zoo.CORRECT["classic"], namespace=dict(zoo.VARIANTS[0]), steps=2).run.steps
    assert moving[0].batch_fingerprint != moving[1].batch_fingerprint
    # a validation pass on a fixed batch between steps is not the batch the loss came from
    validated = check(zoo.CORRECT["validation_each_step"], namespace=dict(zoo.VARIANTS[0]),
                      steps=3).run.steps
    assert [s.batch_fingerprint for s in validated] == [s.batch_fingerprint for s in
                                                        check(zoo.CORRECT["classic"],
                                                              namespace=dict(zoo.VARIANTS[0]),
                                                              steps=3).run.steps]


def test_new_fields_round_trip_through_json(check):
    report = check(zoo.BROKEN["clip_too_tight"].source, namespace=dict(zoo.VARIANTS[0]), steps=2)
    again = Run.from_json(report.run.to_json())
    assert again == report.run
    clip = next(i for i, e in enumerate(report.run.events) if e.kind == "clip")
    assert again.events[clip].value == report.run.events[clip].value is not None
    assert nbgrad.Report.from_json(report.to_json()).diagnoses == report.diagnoses
