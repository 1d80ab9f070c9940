"""The forward-pass rules on real training cells: each fires on its broken loop, with the right code,
severity, layers and line, and stays silent on the correct twin and on other correct loops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nbgrad
from nbgrad import thresholds
from tests.zoo_forward import BROKEN, CODES, CORRECT, VARIANTS, Broken

SEEDS = Path(__file__).parent / "seeds"
IMPORTS = "import torch\nfrom torch import nn\nimport torch.nn.functional as F"


def run_cell(source: str, steps: int = 10, raises: type[BaseException] | None = None,
             runner=None) -> nbgrad.Report:
    """Run a zoo cell (setup first, if it has one) and return its report."""
    ns: dict = {"__name__": "__main__"}
    exec(IMPORTS, ns)
    if "# --- cell ---" in source:
        setup, source = source.split("# --- cell ---\n")
        exec(setup, ns)
    go = runner or (lambda src, ns: nbgrad.gradcheck(src, steps=steps, namespace=ns))
    if raises is None:
        return go(source, ns)
    with pytest.raises(raises):
        go(source, ns)
    return nbgrad.last_report()


def mine(report: nbgrad.Report) -> list[nbgrad.Diagnosis]:
    return [d for d in report.diagnoses if d.code in CODES]


def fix_line(source: str) -> int:
    body = source.split("# --- cell ---\n")[-1]
    return next(i for i, text in enumerate(body.splitlines(), 1) if "# <fix>" in text)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"seed{v['seed']}-w{v['width']}")
@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_rule_fires_on_its_broken_loop(case: Broken, variant: dict) -> None:
    source = case.source(**variant)
    report = run_cell(source, raises=case.raises)
    assert report.analysis_error is None
    found = [d for d in report.diagnoses if d.code == case.code]
    assert len(found) == 1, [(d.code, d.title) for d in report.diagnoses]
    d = found[0]
    assert d.severity == case.severity
    assert set(case.layers) <= set(d.layers), d.layers
    if case.fix_line:
        assert d.line == fix_line(source), (d.line, report.run.cell_line(d.line))
    assert d.title and d.why and d.fix and d.evidence
    assert any(e.value is not None for e in d.evidence)  # measured numbers, not only words


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"seed{v['seed']}-w{v['width']}")
@pytest.mark.parametrize("name", sorted(CORRECT))
def test_silent_on_correct_loops(name: str, variant: dict) -> None:
    report = run_cell(CORRECT[name].format(**variant))
    assert report.analysis_error is None
    assert len(report.run.steps) >= 10
    assert mine(report) == [], [(d.code, d.title) for d in mine(report)]


def test_every_broken_loop_has_a_correct_twin_in_the_zoo() -> None:
    assert {c.base for c in BROKEN} <= set(CORRECT)
    assert {c.code for c in BROKEN} == CODES  # every rule has a broken loop of its own


def test_example2_sigmoids_are_named_as_an_info_with_the_shrink_factor() -> None:
    source = (SEEDS / "example2_sigmoid.py").read_text()
    report = run_cell(source)
    (d,) = [d for d in mine(report) if d.code == "NBG501"]
    assert d.severity == "info"  # the loss still falls at this depth: not a blocker
    assert d.layers == ["fc1", "fc3"]
    shrink = float(re.search(r"per weight shrink (\d+)x", d.title).group(1))
    # the norms in the evidence are the gradient table's numbers at that step
    norms = {e.layer: (e.value, e.step) for e in d.evidence if e.text.startswith(("'fc1':", "'fc3':"))}
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
    assert not [x for x in mine(report) if x.severity != "info"]


def test_example2_at_another_width_and_seed_says_the_same() -> None:
    source = (SEEDS / "example2_sigmoid.py").read_text()
    for old, new in [("self.fc1 = nn.Linear(10, 10)", "self.fc1 = nn.Linear(10, 24)"),
                     ("self.fc2 = nn.Linear(10, 10)", "self.fc2 = nn.Linear(24, 24)"),
                     ("self.fc3 = nn.Linear(10, 1)", "self.fc3 = nn.Linear(24, 1)"),
                     ("model = DeepModelSigmoid()", "torch.manual_seed(7)\nmodel = DeepModelSigmoid()")]:
        assert old in source
        source = source.replace(old, new)
    report = run_cell(source)
    (d,) = [d for d in mine(report) if d.code == "NBG501"]
    assert d.severity == "info" and d.layers == ["fc1", "fc3"]


def test_example3_reciprocal_loss_is_an_error_at_the_loss_line() -> None:
    source = (SEEDS / "example3_reciprocal_loss.py").read_text()
    report = run_cell(source)
    (d,) = [d for d in mine(report) if d.code == "NBG711"]
    assert d.severity == "error"
    assert "away from the targets" in d.title
    assert d.line == fix_line_of(source, "return 1 / torch.mean")
    assert d.fix_code == "return torch.mean((output - target)**2)"
    grew = [e for e in d.evidence if "grew" in e.text]
    assert grew and "reciprocal" in d.why
    assert [e.value for e in d.evidence if "cosine" in e.text] == [pytest.approx(-1.0)] * 2


def test_example1_step_then_zero_grad_is_clean() -> None:
    report = run_cell((SEEDS / "example1_step_then_zero_grad.py").read_text())
    assert mine(report) == []


def fix_line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


@pytest.mark.parametrize("name", ["softmax_into_ce", "eval_mode", "reciprocal_mse"])
def test_lines_through_the_magic_and_the_api(check, name: str) -> None:
    case = next(c for c in BROKEN if c.name == name)
    source = case.source(**VARIANTS[0])
    report = check(source, steps=4)
    (d,) = [d for d in report.diagnoses if d.code == case.code]
    assert d.line == fix_line(source) + check.line_offset


def test_thresholds_each_carry_a_source() -> None:
    table = thresholds.table()
    assert len(table) >= 30  # every rule family: one place for all of them
    for name, value, source in table:
        assert isinstance(value, float) and len(source) > 30, name
