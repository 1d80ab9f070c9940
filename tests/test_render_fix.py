"""The corrected cell a fix button proposes: pure text, checked line by line."""

from __future__ import annotations

from nbgrad.diagnose.diagnosis import Diagnosis
from nbgrad.diagnose.fixes import apply_fix, corrected_cell, fix_mode
from nbgrad.records import Run

LOOP = """\
model = Net()
optimizer = torch.optim.SGD(
    model.parameters(), lr=0)
for x, y in loader:
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
"""


def diagnosis(line: int | None, fix_code: str | None) -> Diagnosis:
    return Diagnosis(code="NBG999", slug="test-fix", severity="error", title="t", evidence=[],
                     why="w", fix="f", fix_code=fix_code, line=line)


def test_new_statement_is_inserted_before_the_line_with_its_indentation():
    fixed = apply_fix(LOOP, 6, "optimizer.zero_grad()", note="nbgrad NBG101 fix")
    lines = fixed.splitlines()
    assert lines[5:9] == ["    # nbgrad NBG101 fix", "    optimizer.zero_grad()",
                          "    loss.backward()", "    optimizer.step()"]
    assert lines[:5] == LOOP.splitlines()[:5]
    compile(fixed, "<fixed>", "exec")


def test_a_restated_assignment_replaces_the_whole_multiline_statement():
    fixed = apply_fix(LOOP, 2, "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)")
    assert fixed.splitlines()[:3] == ["model = Net()",
                                      "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)",
                                      "for x, y in loader:"]
    assert "lr=0)" not in fixed
    compile(fixed, "<fixed>", "exec")


def test_the_same_call_with_other_arguments_replaces_the_line():
    fixed = apply_fix(LOOP, 6, "loss.backward(retain_graph=True)")
    assert "    loss.backward(retain_graph=True)" in fixed.splitlines()
    assert "    loss.backward()" not in fixed.splitlines()


def test_a_fix_that_contains_the_line_replaces_it_instead_of_doubling_it():
    fixed = apply_fix(LOOP, 6, "optimizer.zero_grad()\nloss.backward()")
    assert fixed.count("loss.backward()") == 1
    assert fixed.splitlines()[5:7] == ["    optimizer.zero_grad()", "    loss.backward()"]


def test_a_loop_header_is_replaced_alone_keeping_the_body():
    fixed = apply_fix(LOOP, 4, "for x, y in train_loader:")
    lines = fixed.splitlines()
    assert lines[3] == "for x, y in train_loader:"
    assert lines[4:] == LOOP.splitlines()[4:]


def test_line_past_the_end_appends():
    fixed = apply_fix(LOOP, 8, "print('done')")
    assert fixed.splitlines()[-1] == "print('done')"
    assert fixed.splitlines()[:-1] == LOOP.splitlines()


def test_fix_mode_decisions():
    assert fix_mode("x = 1", "x = 2") == "replace"
    assert fix_mode("x = 1", "y = 2") == "insert"
    assert fix_mode("opt.step()", "opt.zero_grad()") == "insert"
    assert fix_mode("%time x = 1", "x = 2") == "insert"  # IPython syntax: never guess a replace


def run_of(source: str, first_line: int, steps: int = 10, timeout: float = 60.0) -> Run:
    return Run(source=source, first_line=first_line, steps_requested=steps, timeout_s=timeout,
               stopped_by="steps", elapsed_s=0.1)


def test_corrected_cell_of_the_magic_keeps_the_magic_line_and_cell_numbering():
    # the magic's cell: line 1 is %%gradcheck, the source starts at line 2
    run = run_of(LOOP, first_line=2, steps=5)
    fixed = corrected_cell(run, diagnosis(line=7, fix_code="optimizer.zero_grad()"))
    assert fixed is not None
    lines = fixed.splitlines()
    assert lines[0] == "%%gradcheck --steps 5 --timeout 60"
    assert lines[6:8] == ["    # nbgrad NBG999 test-fix: suggested fix", "    optimizer.zero_grad()"]
    assert lines[8] == "    loss.backward()"
    assert run.source == LOOP  # the user's cell is never touched


def test_corrected_cell_of_the_api_has_no_magic_line():
    run = run_of(LOOP, first_line=1)
    fixed = corrected_cell(run, diagnosis(line=6, fix_code="optimizer.zero_grad()"))
    assert fixed is not None and fixed.splitlines()[0] == "model = Net()"


def test_no_corrected_cell_without_code_or_line():
    run = run_of(LOOP, first_line=2)
    assert corrected_cell(run, diagnosis(line=None, fix_code="x = 1")) is None
    assert corrected_cell(run, diagnosis(line=3, fix_code=None)) is None
    assert corrected_cell(run, diagnosis(line=1, fix_code="x = 1")) is None  # the magic line
