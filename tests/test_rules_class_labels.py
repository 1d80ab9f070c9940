"""A regression loss given class labels (NBG814), on real loops: the evidence a beginner sees,
the line of the fix, and the regressions on whole-number targets that must stay clean."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nbgrad

FIRST = """
torch.manual_seed(0)
X = torch.randn(300, 4)
y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, OUTPUTS))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(20):
    for i in range(0, 300, 30):
        out = model(X[i:i + 30])
        loss = LOSS
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""


def _cell(outputs: int, loss: str) -> str:
    return FIRST.replace("OUTPUTS", str(outputs)).replace("LOSS", loss)


def _run(cell: str) -> nbgrad.Report:
    return nbgrad.gradcheck(cell, steps=6, namespace={"torch": torch, "nn": nn})


def _only(report: nbgrad.Report) -> nbgrad.Diagnosis:
    found = [d for d in report.problems if d.code == "NBG814"]
    assert len(found) == 1, [(d.code, d.title) for d in report.problems]
    return found[0]


def test_three_outputs_against_labels_explains_the_crash_with_torchs_own_warning():
    cell = _cell(3, "criterion(out, y[i:i + 30])")
    with pytest.warns(UserWarning, match="target size"), \
            pytest.raises(RuntimeError, match="must match the size"):  # the user's error stays
        _run(cell)
    d = _only(nbgrad.last_report())
    assert d.severity == "error" and d.line == 6  # criterion = nn.MSELoss()
    texts = [e.text for e in d.evidence]
    assert "(30, 3) with targets of shape (30,)" in texts[0] and "0 to 2" in texts[0]
    assert texts[1].startswith("torch warned: Using a target size (torch.Size([30]))")
    assert texts[2].startswith("line 11 raised RuntimeError: The size of tensor a (3)")
    assert d.fix_code == "criterion = nn.CrossEntropyLoss()"


@pytest.mark.parametrize("loss, cast_line", [
    ("criterion(out.squeeze(1), y[i:i + 30])", None),  # int64 labels reach the loss
    ("criterion(out.squeeze(1), y[i:i + 30].float())", 11),  # turned into floats on the loss line
])
def test_one_output_trained_on_labels_is_named_at_the_loss(loss, cast_line):
    d = _only(_run(_cell(1, loss)))
    assert d.severity == "warning" and d.line == 6
    assert "0 to 2 (3 different values" in d.evidence[0].text and d.evidence[0].value == 3
    assert ("stored as integers" in d.evidence[0].text) == (cast_line is None)
    casts = [e.text for e in d.evidence if "turns the labels into floats" in e.text]
    assert casts == ([] if cast_line is None else [f"line {cast_line} `{loss.join(['loss = ', ''])}` "
                                                   "turns the labels into floats for the loss"])
    assert "CrossEntropyLoss" in d.fix and "nn.Linear(..., 3)" in d.fix


def test_a_functional_loss_is_named_at_its_call():
    cell = _cell(3, "torch.nn.functional.mse_loss(out, y[i:i + 30])")
    with pytest.raises(RuntimeError, match="must match the size"):  # the user's error stays
        _run(cell)
    d = _only(nbgrad.last_report())
    assert d.line == 11 and d.fix_code == "loss = torch.nn.functional.cross_entropy(out, y[i:i + 30])"


def test_one_output_gets_its_fix_in_words_not_a_loss_swap_that_cannot_train():
    """cross_entropy over one output per sample has a single class to choose from: the last layer
    and the labels must change too, so no one line is offered as the fix."""
    d = _only(_run(_cell(1, "torch.nn.functional.mse_loss(out[:, 0], y[i:i + 30])")))
    assert d.line == 11 and d.fix_code is None and d.edits == []
    assert "nn.Linear(..., 3)" in d.fix and "y.long()" in d.fix


@pytest.mark.parametrize("target", [
    "y[i:i + 30].float() * 0.5",  # not whole numbers
    "(y[i:i + 30] > 0).float()",  # two levels: a binary target MSE may fit as a probability
    "y[i:i + 30].float() + 1",  # 1 to 3: ratings, counts from 1; class labels start at 0
])
def test_targets_that_are_not_class_labels_are_not_named(target):
    report = _run(_cell(1, f"criterion(out.squeeze(1), {target})"))
    assert not [d for d in report.diagnoses if d.code == "NBG814"]


def test_whole_number_float_targets_without_a_cast_are_measurements_not_labels():
    cell = _cell(1, "criterion(out.squeeze(1), counts[i:i + 30])").replace(
        "y = (X", "counts = torch.poisson(torch.ones(300) * 1.5)\ny = (X")
    report = _run(cell)
    assert report.run.forward.losses[0].target_levels is not None  # the target is whole numbers
    assert not [d for d in report.diagnoses if d.code == "NBG814"]
