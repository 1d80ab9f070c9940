"""The article's three examples, each with exactly the diagnosis it should get (the zoo's own cells
are in tests/test_zoo.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nbgrad
from nbgrad import thresholds
from tests import zoo, zoo_runs

SEEDS = Path(__file__).parent / "seeds"


def run_cell(source: str) -> nbgrad.Report:
    return zoo_runs.run(source, zoo.VARIANTS[0])


def test_example2_sigmoids_are_named_as_an_info_with_the_shrink_factor() -> None:
    source = (SEEDS / "example2_sigmoid.py").read_text()
    report = run_cell(source)
    (d,) = [d for d in report.diagnoses if d.code == "NBG501"]
    assert d.severity == "info"  # the loss still falls at this depth: not a blocker
    assert d.layers == ["fc1", "fc3"]
    shrink = float(re.search(r"per weight shrink (\d+)x", d.title).group(1))
    # the norms in the evidence are the gradient table's numbers at that step
    norms = {e.layer: (e.value, e.step) for e in d.evidence
             if e.text.startswith(("'model.fc1':", "'model.fc3':"))}  # as the cell writes them
    run = report.run
    for layer, (norm, step) in norms.items():
        assert norm == run.steps[step].layers[layer].grad_norm
    size = {name: sum(run.params[p].numel for p in run.layers[name].params) for name in norms}
    per_weight = {name: norms[name][0] / size[name] ** 0.5 for name in norms}
    assert shrink == pytest.approx(per_weight["fc3"] / per_weight["fc1"], rel=0.01)
    assert shrink > 10
    assert "sigmoid" in d.why and "still works" in d.why
    assert d.line == fix_line_of(source, "x = F.sigmoid(self.fc1(x))")
    assert d.fix_code == "x = F.relu(self.fc1(x))"
    assert report.problems == []


def test_example2_at_another_width_and_seed_says_the_same() -> None:
    source = (SEEDS / "example2_sigmoid.py").read_text()
    for old, new in [("self.fc1 = nn.Linear(10, 10)", "self.fc1 = nn.Linear(10, 24)"),
                     ("self.fc2 = nn.Linear(10, 10)", "self.fc2 = nn.Linear(24, 24)"),
                     ("self.fc3 = nn.Linear(10, 1)", "self.fc3 = nn.Linear(24, 1)"),
                     ("model = DeepModelSigmoid()", "torch.manual_seed(7)\nmodel = DeepModelSigmoid()")]:
        assert old in source
        source = source.replace(old, new)
    report = run_cell(source)
    (d,) = [d for d in report.diagnoses if d.code == "NBG501"]
    assert d.severity == "info" and d.layers == ["fc1", "fc3"]


def test_example3_reciprocal_loss_is_an_error_at_the_loss_line() -> None:
    source = (SEEDS / "example3_reciprocal_loss.py").read_text()
    report = run_cell(source)
    (d,) = [d for d in report.diagnoses if d.code == "NBG711"]
    assert d.severity == "error"
    assert "away from the targets" in d.title
    assert d.line == fix_line_of(source, "return 1 / torch.mean")
    assert d.fix_code == "return torch.mean((output - target)**2)"
    grew = [e for e in d.evidence if "grew" in e.text]
    assert grew and "reciprocal" in d.why
    assert [e.value for e in d.evidence if "cosine" in e.text] == [pytest.approx(-1.0)] * 2


def test_example1_step_then_zero_grad_is_clean() -> None:
    report = run_cell((SEEDS / "example1_step_then_zero_grad.py").read_text())
    assert report.problems == []


def fix_line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


@pytest.mark.parametrize("name", ["softmax_into_ce", "eval_mode", "reciprocal_mse"])
def test_lines_through_the_magic_and_the_api(check, name: str) -> None:
    case = zoo.BROKEN[name]
    report = check(case.source, namespace=dict(zoo.VARIANTS[0]), steps=4)
    (d,) = [d for d in report.diagnoses if d.code == case.code]
    assert case.line is not None
    assert d.line == zoo.line_of(case.source, case.line) + check.line_offset


def test_thresholds_each_carry_a_source() -> None:
    table = thresholds.table()
    assert len(table) >= 30  # every rule family: one place for all of them
    for name, value, source in table:
        assert isinstance(value, float) and len(source) > 30, name
