"""The zoo (tests/zoo.py): every rule fires on its broken cell, and no rule of any family warns on
any correct cell.

Each cell runs through both entry points (`check`: the API and the magic) on the first variant, and
through the API on the other variants (another seed, width and batch), so no rule is fitted to one
model. A broken cell must give its own code and no other warning or error (unless it lists it in
`also`): a rule that misfires on another family's mistake fails here.
"""

from __future__ import annotations

import difflib

import pytest

from nbgrad.report import Report
from tests import zoo, zoo_runs

PROBLEMS = ("error", "warning")


def _summary(report: Report) -> str:
    return "\n".join(f"{d.severity} {d.code} {d.title} (line {d.line}) {d.layers}"
                     for d in report.diagnoses) or "no diagnoses"


def assert_clean(report: Report) -> None:
    assert report.analysis_error is None
    assert report.problems == [], _summary(report)
    assert len(report.run.steps) >= 10
    assert report.verdict == f"No problems found in {len(report.run.steps)} steps"


def assert_diagnosed(report: Report, broken: zoo.Broken, line_offset: int) -> None:
    assert report.analysis_error is None
    found = [d for d in report.diagnoses if d.code == broken.code]
    assert len(found) == 1, _summary(report)
    (diagnosis,) = found
    assert diagnosis.severity == broken.severity, _summary(report)
    if broken.line != zoo.ANY:
        expected = None if broken.line is None else zoo.line_of(broken.source, broken.line) \
            + line_offset
        assert diagnosis.line == expected, _summary(report)
    if broken.layers:
        assert sorted(diagnosis.layers) == sorted(broken.layers)
    assert set(broken.layers_include) <= set(diagnosis.layers), diagnosis.layers
    assert diagnosis.title and diagnosis.why and diagnosis.fix
    assert diagnosis.evidence and all(e.text for e in diagnosis.evidence)
    if not broken.code.startswith("NBG9"):  # an exception's evidence is its message
        assert any(e.value is not None for e in diagnosis.evidence)  # measured, not only words
    others = [d for d in report.problems if d.code != broken.code and d.code not in broken.also]
    assert not others, _summary(report)


def _variant_id(v: dict[str, int]) -> str:
    return f"seed{v['SEED']}-h{v['H']}-b{v['BATCH']}"


@pytest.mark.parametrize("name", sorted(zoo.CORRECT))
def test_correct_loop_is_clean(check, name):
    if check.entry == "api":  # the run the consistency and golden tests render too
        report = zoo_runs.report(name, 0)
    else:
        report = zoo_runs.run(zoo.CORRECT[name], zoo.VARIANTS[0], runner=check)
    assert_clean(report)


@pytest.mark.slow
@pytest.mark.parametrize("variant", range(1, len(zoo.VARIANTS)),
                         ids=lambda i: _variant_id(zoo.VARIANTS[i]))
@pytest.mark.parametrize("name", sorted(zoo.CORRECT))
def test_correct_loop_variant_is_clean(name, variant):
    assert_clean(zoo_runs.report(name, variant))


@pytest.mark.parametrize("name", sorted(zoo.BROKEN))
def test_broken_loop_is_diagnosed(check, name):
    broken = zoo.BROKEN[name]
    if check.entry == "api":  # the run the consistency and golden tests render too
        report = zoo_runs.report(name, 0)
    else:
        report = zoo_runs.run(broken.source, zoo.VARIANTS[0], steps=broken.steps,
                              raises=broken.raises, runner=check)
    assert_diagnosed(report, broken, check.line_offset)


@pytest.mark.slow
@pytest.mark.parametrize("variant", range(1, len(zoo.VARIANTS)),
                         ids=lambda i: _variant_id(zoo.VARIANTS[i]))
@pytest.mark.parametrize("name", sorted(zoo.BROKEN))
def test_broken_loop_variant_is_diagnosed(name, variant):
    assert_diagnosed(zoo_runs.report(name, variant), zoo.BROKEN[name], 0)


def test_zoo_has_the_required_correct_loops():
    required = {"classic", "zero_grad_after_step", "zero_grad_keep_tensors", "grad_accumulation",
                "lbfgs_closure", "warmup_from_zero", "frozen_backbone", "weight_tying",
                "dropout_batchnorm", "gan", "converged", "unused_head"}
    assert required <= set(zoo.CORRECT) and len(zoo.CORRECT) >= 40


def test_every_rule_has_a_broken_loop_of_its_own():
    from nbgrad.diagnose.catalogue import CATALOGUE

    untested = {"NBG304", "NBG305", "NBG406", "NBG502", "NBG702", "NBG902", "NBG905"}
    covered = {b.code for b in zoo.BROKEN.values()}
    # codes across the ranks of a torchrun job need several processes: tests/test_distributed.py
    # runs each on a real job, tests/test_ranks.py on hand-made records
    ranks = {code for code in CATALOGUE if code.startswith("NBG95")}
    # notes and codes the zoo cannot reach on a CPU in a few steps are tested on hand-made records
    assert set(CATALOGUE) - covered - ranks <= untested | {"NBG304", "NBG702", "NBG905", "NBG406"}


def test_each_broken_loop_is_a_correct_loop_with_one_change():
    """A broken cell differs from some correct cell (or base) in one contiguous place."""
    bases = [*zoo.CORRECT.values(), zoo.NET, zoo.CLASSES, zoo.RNN, zoo.FUNCTIONAL, zoo.AMP]
    for name, broken in zoo.BROKEN.items():
        best = min(bases, key=lambda base: sum(
            1 for op in difflib.SequenceMatcher(None, base.splitlines(), broken.source.splitlines())
            .get_opcodes() if op[0] != "equal"))
        changes = [op for op in difflib.SequenceMatcher(
            None, best.splitlines(), broken.source.splitlines()).get_opcodes() if op[0] != "equal"]
        assert 1 <= len(changes) <= 2, name  # one edit (a moved line counts as two)
