"""Every rule fires on its broken cell and no rule warns on a correct one (tests/zoo.py).

Each cell runs through both entry points (`check`: the API and the magic) on the first variant, and
through the API on the other variants (another seed and hidden width), so no rule is fitted to one
model.
"""

from __future__ import annotations

from typing import Any

import pytest

import nbgrad
from nbgrad.report import Report
from tests import zoo

PROBLEMS = ("error", "warning")


def _run(runner: Any, source: str, variant: dict[str, int], steps: int = 10,
         raises: str | None = None) -> Report:
    namespace = dict(variant)
    if raises is None:
        return runner(source, namespace=namespace, steps=steps, timeout=30)
    with pytest.raises(BaseException) as caught:
        runner(source, namespace=namespace, steps=steps, timeout=30)
    assert type(caught.value).__name__ == raises
    report = nbgrad.last_report()
    assert report is not None
    return report


def _api(source: str, namespace: dict[str, Any], **options: Any) -> Report:
    exec("import torch\nfrom torch import nn\nimport torch.nn.functional as F", namespace)
    return nbgrad.gradcheck(source, namespace=namespace, **options)


def _summary(report: Report) -> str:
    return "\n".join(f"{d.severity} {d.code} {d.title} (line {d.line}) {d.layers}"
                     for d in report.diagnoses) or "no diagnoses"


def assert_clean(report: Report) -> None:
    problems = [d for d in report.diagnoses if d.severity in PROBLEMS]
    assert not problems, _summary(report)
    assert report.analysis_error is None
    assert report.verdict == f"No problems found in {len(report.run.steps)} steps"


def assert_diagnosed(report: Report, broken: zoo.Broken, line_offset: int) -> None:
    found = [d for d in report.diagnoses if d.code == broken.code]
    assert len(found) == 1, _summary(report)
    (diagnosis,) = found
    assert diagnosis.severity == broken.severity
    expected_line = None if broken.line is None else zoo.line_of(broken.source, broken.line) \
        + line_offset
    assert diagnosis.line == expected_line, _summary(report)
    if broken.layers:
        assert sorted(diagnosis.layers) == sorted(broken.layers)
    assert diagnosis.evidence and all(e.text for e in diagnosis.evidence)
    others = [d for d in report.diagnoses if d.severity in PROBLEMS and d.code != broken.code
              and d.code not in broken.also]
    assert not others, _summary(report)
    assert report.analysis_error is None


@pytest.mark.parametrize("name", sorted(zoo.CORRECT))
def test_correct_loop_is_clean(check, name):
    assert_clean(_run(check, zoo.CORRECT[name], zoo.VARIANTS[0]))


@pytest.mark.parametrize("variant", zoo.VARIANTS[1:], ids=lambda v: f"seed{v['SEED']}-h{v['H']}")
@pytest.mark.parametrize("name", sorted(zoo.CORRECT))
def test_correct_loop_variant_is_clean(name, variant):
    assert_clean(_run(_api, zoo.CORRECT[name], variant))


@pytest.mark.parametrize("name", sorted(zoo.BROKEN))
def test_broken_loop_is_diagnosed(check, name):
    broken = zoo.BROKEN[name]
    report = _run(check, broken.source, zoo.VARIANTS[0], broken.steps, broken.raises)
    assert_diagnosed(report, broken, check.line_offset)


@pytest.mark.parametrize("variant", zoo.VARIANTS[1:], ids=lambda v: f"seed{v['SEED']}-h{v['H']}")
@pytest.mark.parametrize("name", sorted(zoo.BROKEN))
def test_broken_loop_variant_is_diagnosed(name, variant):
    broken = zoo.BROKEN[name]
    report = _run(_api, broken.source, variant, broken.steps, broken.raises)
    assert_diagnosed(report, broken, 0)


def test_zoo_has_the_required_correct_loops():
    required = {"classic", "zero_grad_after_step", "zero_grad_keep_tensors", "grad_accumulation",
                "lbfgs_closure", "warmup_from_zero", "frozen_backbone", "weight_tying",
                "dropout_batchnorm", "gan", "converged", "unused_head"}
    assert required <= set(zoo.CORRECT) and len(zoo.CORRECT) >= 12


def test_each_broken_loop_is_a_correct_loop_with_one_change():
    """A broken cell differs from some correct cell (or base) in one contiguous place."""
    import difflib

    bases = [*zoo.CORRECT.values(), zoo.NET, zoo.CLASSES, zoo.RNN, zoo.FUNCTIONAL, zoo.AMP]
    for name, broken in zoo.BROKEN.items():
        best = min(bases, key=lambda base: sum(
            1 for op in difflib.SequenceMatcher(None, base.splitlines(), broken.source.splitlines())
            .get_opcodes() if op[0] != "equal"))
        changes = [op for op in difflib.SequenceMatcher(
            None, best.splitlines(), broken.source.splitlines()).get_opcodes() if op[0] != "equal"]
        assert 1 <= len(changes) <= 2, name  # one edit (a moved line counts as two)
