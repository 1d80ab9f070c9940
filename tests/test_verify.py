"""Proving a fix: `verify=True` (and the dashboard's "Try the fix") runs the corrected cell from
the state before the cell and reports whether the problem is gone and the loss improves.

Asserted on the zoo's broken loops, whose fixes are known: each fix that is code is tried, and it
resolves the diagnosis with a lower last loss, except where tests/zoo_fixes.py says why the
numbers of a few steps cannot show it (and then the report must say so, and be less certain). The correct
loops get no verification, and the user's state after a verified check is bit for bit the state
after a plain one.
"""

from __future__ import annotations

import functools
import json
import math

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.diagnose import fixes
from nbgrad.diagnose.verification import ANOTHER_LOSS, PROBLEMS
from nbgrad.report import Report
from tests import state_tools, zoo, zoo_runs
from tests.zoo_fixes import NO_CODE, NOT_SHOWN_IN_STEPS


@functools.cache
def _verified_json(name: str, variant: int) -> str:
    broken = zoo.BROKEN[name]
    setup, cell = zoo.split(broken.source)
    ns = zoo_runs.namespace(zoo.VARIANTS[variant], setup)
    try:
        report = nbgrad.gradcheck(cell, namespace=ns, steps=broken.steps, timeout=30, verify=True)
    except Exception:
        report = nbgrad.last_report()
    assert report is not None
    return report.to_json()


def verified(name: str, variant: int = 0) -> Report:
    """A broken zoo loop's report with its fixes tried, run once per process."""
    return Report.from_json(_verified_json(name, variant))


def assert_verifies(name: str, variant: int = 0) -> None:
    broken = zoo.BROKEN[name]
    plain = zoo_runs.report(name, variant)
    (before,) = [d for d in plain.diagnoses if d.code == broken.code]
    report = verified(name, variant)
    (d,) = [d for d in report.diagnoses if d.code == broken.code]
    if name in NO_CODE:
        assert not before.edits or before.severity not in PROBLEMS
        assert d.verification is None  # a note, or a fix that is not code: nothing to try
        return
    assert before.severity in PROBLEMS and before.edits, "a fix as code (or a NO_CODE entry)"
    v = d.verification
    assert v is not None, name
    assert v.trial.ran and v.resolved, v.verdict  # the diagnosis is gone on the corrected run
    assert broken.code not in {f.code for f in v.trial.findings}
    assert v.trial.source != plain.run.source and len(v.trial.losses) == broken.steps
    if name in NOT_SHOWN_IN_STEPS:
        assert not v.improved and NOT_SHOWN_IN_STEPS[name] in v.verdict, v.verdict
        assert d.confidence == pytest.approx(before.confidence / 2)
        return
    assert v.improved, v.verdict
    finite = [x for x in v.trial.losses if x is not None and math.isfinite(x)]
    original = [x for x in v.original_losses if x is not None]
    if original and plain.run.error is None and d.code not in ANOTHER_LOSS:
        # the last loss is lower than the cell's own (a NaN/Inf one counts as the highest)
        last = original[-1] if math.isfinite(original[-1]) else math.inf
        assert finite[-1] < last, v.verdict
    else:  # the cell raised, or the fix changes what the loss measures: the loss must fall
        assert finite[-1] < finite[0], v.verdict
    assert v.verdict.startswith("Tried: with ") and v.verdict.endswith("the problem is gone.")
    assert d.confidence == before.confidence
    assert fixes.offered_cell(report.run, d) is not None


FAST = ["no_zero_grad", "backward_on_item", "lr_huge", "lr_zero"]  # the fast lane's; the rest: slow lane


@pytest.mark.parametrize("name", FAST)
def test_a_broken_loop_is_resolved_by_its_tried_fix(name):
    assert_verifies(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(zoo.BROKEN) - set(FAST)))
def test_every_broken_loop_with_a_code_fix_is_resolved(name):
    assert_verifies(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(zoo.BROKEN))
def test_every_broken_loop_verifies_on_another_variant_too(name):
    if name in NOT_SHOWN_IN_STEPS:
        pytest.skip("its loss is not shown to improve in 10 steps on the first variant either")
    assert_verifies(name, 1)


@pytest.mark.parametrize("name", ["classic", "gan", "dropout_batchnorm"])
def test_a_correct_loop_gets_no_verification(name):
    ns = zoo_runs.namespace(zoo.VARIANTS[0], zoo.split(zoo.CORRECT[name])[0])
    report = nbgrad.gradcheck(zoo.split(zoo.CORRECT[name])[1], namespace=ns, timeout=30,
                              verify=True)
    assert report.verification is None
    assert all(d.verification is None for d in report.diagnoses)
    assert "tried:" not in report.to_text() and "Fixes tried" not in report.to_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(zoo.CORRECT) - {"classic", "gan", "dropout_batchnorm"}))
def test_no_correct_loop_gets_a_verification(name):
    test_a_correct_loop_gets_no_verification(name)


# -- the user's state -----------------------------------------------------------------------------
SETUP = """
torch.manual_seed(3)
X = torch.randn(128, 6)
labels = X[:, :3].argmax(dim=1)
model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
"""
BROKEN = """model.eval()
history = []
for epoch in range(100):
    for i in range(0, 128, 32):
        loss = nn.functional.cross_entropy(model(X[i:i + 32]), labels[i:i + 32])
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
        head = nn.Linear(1, 1)  # made by the cell: keeps what the steps do to it
"""


def _namespace() -> dict:
    ns = {"torch": torch, "nn": nn, "__name__": "__main__"}
    exec(SETUP, ns)
    return ns


def test_the_users_state_is_bit_identical_after_a_verified_check():
    names = ["model", "opt", "sched", "X", "labels"]
    plain_ns, verified_ns = _namespace(), _namespace()
    before = state_tools.pictures(verified_ns, names)
    plain = nbgrad.gradcheck(BROKEN, namespace=plain_ns, timeout=30)
    report = nbgrad.gradcheck(BROKEN, namespace=verified_ns, timeout=30, verify=True)
    tried = [d for d in report.diagnoses if d.verification is not None]
    assert len(tried) == 2 and report.verification is not None  # no zero_grad, eval mode
    assert report.verification.tried >= len(tried)
    after = state_tools.pictures(verified_ns, names)
    assert state_tools.same(before, after) == []  # what existed before: as it was, RNG too
    # what the cell made or re-bound is what a plain check leaves: the trials did not touch it
    made = ["history", "head", "loss", "epoch", "i"]
    assert state_tools.same(state_tools.pictures(plain_ns, made[1:2]),
                            state_tools.pictures(verified_ns, made[1:2])) == []
    # the loop was stopped in the 10th step's opt.step(), before its history.append()
    assert plain_ns["history"] == verified_ns["history"] and len(plain_ns["history"]) == 9
    assert set(plain_ns) == set(verified_ns)
    assert nbgrad.last_report() is report  # the trials' checks do not replace the cell's report
    assert plain.run.steps and [d.code for d in plain.diagnoses] == [d.code for d in report.diagnoses]


def test_a_trial_of_the_unchanged_cell_repeats_the_checks_run_bit_for_bit():
    """A trial starts from the state before the cell, RNG included: the same data order and
    dropout masks, so the unchanged cell gives the same losses and gradients again."""
    ns = _namespace()
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30)
    before = state_tools.pictures(ns, ["model", "opt", "sched"])
    again = report.trials._run(report.run.source, "again", [], None, [0], 1, "again")
    from nbgrad.diagnose.verification import grad_grid, losses

    assert again.losses == losses(report.run) and len(again.losses) == 10
    assert (again.layers, again.grad_norms) == grad_grid(report.run)
    assert state_tools.same(before, state_tools.pictures(ns, ["model", "opt", "sched"])) == []


# -- what a verification says ---------------------------------------------------------------------
def test_the_verification_round_trips_through_json():
    report = verified("lr_huge")
    data = json.loads(report.to_json())
    (d,) = [d for d in data["diagnoses"] if d["code"] == "NBG403"]
    v = d["verification"]
    assert set(v) >= {"trial", "original_losses", "resolved", "improved", "verdict", "remaining",
                      "new", "candidates"}
    assert v["resolved"] is True and v["trial"]["source"] and len(v["candidates"]) >= 3
    again = Report.from_json(report.to_json())
    assert again.diagnoses == report.diagnoses and again.verification == report.verification
    assert again.to_text() == report.to_text()


def test_a_learning_rate_fix_is_a_sweep_whose_best_rate_becomes_the_fix():
    report = verified("lr_huge")
    (d,) = [d for d in report.diagnoses if d.code == "NBG403"]
    v = d.verification
    assert v is not None and 3 <= len(v.candidates) <= 5
    assert all(t.lr is not None and t.lr < 3.0 for t in v.candidates)  # all below the diverging 3
    ran = [t for t in v.candidates if t.ran and "NBG403" not in {f.code for f in t.findings}]
    lowest = min(ran, key=lambda t: t.losses[-1])
    assert v.trial == lowest  # the chosen rate trains best of those that resolve it
    assert d.fix_code == f"opt = torch.optim.SGD(model.parameters(), lr={v.trial.lr:g}, momentum=0.9)"
    assert "rank learning rates" in v.note and "schedule" in v.note
    text = report.to_text()
    assert "Learning rates tried for NBG403:" in text and "✔ chosen" in text


def test_a_fix_that_raises_is_reported_with_its_error_and_not_offered():
    ns = _namespace()
    cell = """
for i in range(0, 128, 32):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(X[i:i + 32]), labels[i:i + 32]).item()
    loss.backward()
    assert isinstance(loss, float), "this cell also relies on a float loss"
    opt.step()
"""
    before = state_tools.pictures(ns, ["model", "opt", "sched"])
    with pytest.raises(AttributeError):
        nbgrad.gradcheck(cell, namespace=ns, timeout=30, verify=True)
    report = nbgrad.last_report()
    (d,) = [d for d in report.diagnoses if d.code == "NBG909"]
    v = d.verification
    assert v is not None and not v.trial.ran and v.status == "raised"
    # line 6 of the user's cell is line 7 of the corrected one (a comment line marks the fix)
    assert v.trial.error.type == "AssertionError" and v.trial.error.line == 7
    assert v.trial.source.splitlines()[6].strip().startswith("assert isinstance(loss, float)")
    assert ("the corrected cell raised AssertionError at its line 7: this cell also relies on a "
            "float loss. Your objects were restored") in v.verdict
    assert d.fix_code is None and d.edits == [] and fixes.offered_cell(report.run, d) is None
    assert d.confidence == pytest.approx(0.45)
    assert state_tools.same(before, state_tools.pictures(ns, ["model", "opt", "sched"])) == []


def test_several_fixes_each_alone_then_all_together():
    source = zoo.mutate(zoo.FORWARD_CORRECT["dropout_bn"], "model.train()  # <fix>",
                        "model.eval()  # <fix>").replace("    opt.zero_grad()\n", "")
    ns = zoo_runs.namespace(zoo.VARIANTS[0])
    report = nbgrad.gradcheck(source, namespace=ns, timeout=30, verify=True)
    assert {d.code for d in report.diagnoses if d.verification} == {"NBG301", "NBG651"}
    summary = report.verification
    assert summary is not None and summary.together is not None and summary.tried == 3
    together = summary.together.source
    assert "model.train()" in together and "opt.zero_grad()" in together  # both fixes at once
    assert summary.best == "all fixes" and summary.together.findings == []
    assert summary.verdict.startswith("2 fixes tried alone and all together: all fixes together "
                                      "trains best")
    from tests.rendered import html_tables, text_tables

    rows = text_tables(report.to_text())["Fixes tried"]
    assert [r[0] for r in rows] == ["fix", "NBG301", "NBG651", "all fixes"]
    assert html_tables(report.to_html(figures=False))["Fixes tried"] == rows


def test_ctrl_c_stops_the_trials_and_keeps_those_that_finished():
    source = zoo.mutate(zoo.FORWARD_CORRECT["dropout_bn"], "model.train()  # <fix>",
                        "model.eval()  # <fix>").replace("    opt.zero_grad()\n", "")
    ns = zoo_runs.namespace(zoo.VARIANTS[0])
    calls = [0]

    def tick() -> None:  # the second trial is interrupted at its fifth step
        calls[0] += 1
        if calls[0] == 26:
            raise KeyboardInterrupt
    ns["tick"] = tick
    cell = source.replace("    loss.backward()\n", "    loss.backward()\n    tick()\n")
    before = state_tools.rng_states()
    report = nbgrad.gradcheck(cell, namespace=ns, timeout=30, verify=True)
    first, second = [d for d in report.diagnoses if d.code in ("NBG301", "NBG651")]
    done = [d for d in (first, second) if d.verification is not None]
    assert len(done) == 1 and done[0].verification.trial.ran
    summary = report.verification
    assert summary is not None and summary.stopped.startswith("interrupted (Ctrl-C) after 1 of 3")
    assert summary.together is None and "Stopped early: interrupted" in summary.verdict
    assert state_tools.same(before, state_tools.rng_states()) == []


def test_no_trial_starts_once_the_time_budget_is_spent(monkeypatch):
    """(number of trials + 1) x the check's time: once spent, the other trials are not started
    and the report says so; what finished stays."""
    from nbgrad import verify

    ns = _namespace()
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30)
    trials = report.trials
    assert trials.budget(3) - trials.budget(0) == pytest.approx(3 * trials.check_s(), rel=0.01)
    assert trials.check_s() >= verify.MIN_CHECK_S
    real_run = verify.Trials._run

    def slow_run(self, *args, **kwargs):  # the first trial takes all the time there is
        trial = real_run(self, *args, **kwargs)
        self.deadline = 0.0
        return trial
    monkeypatch.setattr(verify.Trials, "_run", slow_run)
    summary = trials.try_all()
    assert summary is not None and summary.tried == 1 and summary.planned == 3
    assert summary.stopped.startswith("the time budget, 4 x the check's")
    assert [d.code for d in report.diagnoses if d.verification] == ["NBG301"]
    assert "Stopped early: the time budget" in summary.verdict


def test_progress_says_which_trial_runs():
    class Recorder:
        def __init__(self) -> None:
            self.stages: list[str] = []
            self.steps: list[tuple[int, int]] = []

        def __call__(self, step: int, total: int) -> None:
            self.steps.append((step, total))

        def stage(self, doing: str) -> None:
            self.stages.append(doing)

    progress = Recorder()
    ns = _namespace()
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30, verify=True, steps=4,
                              progress=progress)
    # each fix alone, then all together: the bar says which and how many
    assert progress.stages == ["trying the fix of NBG301 (1 of 3)",
                               "trying the fix of NBG651 (2 of 3)",
                               "trying all fixes together (3 of 3)"]
    assert progress.steps.count((4, 4)) == 4  # the check and its three trials, 4 steps each
    assert report.verification is not None and report.verification.planned == 3


@pytest.mark.slow
def test_the_magic_verifies_and_refuses_verify_with_keep(shell):
    from IPython.core.error import UsageError

    shell.run_cell(SETUP)
    result = shell.run_cell("%%gradcheck --verify --steps 5\n" + BROKEN.strip())
    assert result.error_in_exec is None
    report = nbgrad.last_report()
    assert report.verification is not None and report.run.first_line == 2
    tried = [d for d in report.diagnoses if d.verification is not None]
    assert tried and all(d.verification.trial.ran for d in tried)
    cell = fixes.offered_cell(report.run, tried[0])
    assert cell.startswith("%%gradcheck --steps 5 --timeout 60\n")
    result = shell.run_cell("%%gradcheck --verify --keep\npass")
    assert isinstance(result.error_in_exec, UsageError)
    assert "verify and keep cannot be combined" in str(result.error_in_exec)


@pytest.mark.slow
def test_nbgrad_check_verify_tries_the_fixes_of_a_script(tmp_path, capsys):
    from nbgrad.cli import main

    script = tmp_path / "train.py"
    script.write_text("import torch\nfrom torch import nn\n" + SETUP + BROKEN)
    out = tmp_path / "report.json"
    assert main(["check", str(script), "--verify", "--steps", "4", "--json", str(out)]) == 1
    report = Report.from_json(out.read_text())
    assert report.verification is not None and report.verification.tried >= 2
    printed = capsys.readouterr()
    assert "Fixes tried:" in printed.out and "nbgrad: trying the fix of NBG301" in printed.err


# -- the dashboard's "Try the fix" ----------------------------------------------------------------
def test_try_the_fix_runs_the_trial_and_updates_the_row_in_place(shell):
    import ipywidgets as W

    from nbgrad.render.widget import Dashboard

    ns = _namespace()
    before = state_tools.pictures(ns, ["model", "opt", "sched"])
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30)
    assert all(d.verification is None for d in report.diagnoses)  # nothing extra by default
    dash = Dashboard(report)
    row = next(r for r in dash.rows if r.diagnosis.code == "NBG651")
    assert row.trial.button is not None and row.fix_button is None  # not offered before it ran
    assert dash.trials.button is not None and dash.trials.button.description == "Try all 2 fixes"
    shown_before = row.details
    row.trial.button.click()
    v = row.diagnosis.verification
    assert v is not None and v.status == "helped"
    assert row.details is shown_before  # the same row, updated in place
    kinds = [type(w) for w in row.trial.widget.children]
    assert kinds.count(W.Image) == 2  # both loss curves; both heat maps side by side
    assert v.verdict in row.trial.widget.children[0].value
    assert row.fix_button is not None and row.fix_button in row.details.children
    shell.rl_next_input = None
    row.fix_button.click()
    assert shell.rl_next_input == v.trial.source  # the cell that ran is the cell offered
    assert state_tools.same(before, state_tools.pictures(ns, ["model", "opt", "sched"])) == []
    assert "tried: ✔ Tried: with line 1 changed" in report.to_text()  # the report has it too
    other = next(r for r in dash.rows if r.diagnosis.code == "NBG301")
    other.trial.button.click()  # from the state before the cell again: no need to re-run it
    assert other.diagnosis.verification is not None
    assert other.diagnosis.verification.baseline is None
    dash.close()


def test_other_cells_that_leave_the_cells_state_alone_need_no_rerun():
    ns = _namespace()
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30)
    ns["unrelated"] = torch.zeros(3)  # a later cell that draws no random number
    ns["loss"] = 0.0  # a name the cell binds before it reads it
    eval_mode = next(d for d in report.diagnoses if d.code == "NBG651")
    v = report.trials.try_fix(eval_mode)
    assert v.baseline is None  # compared with the check's own run
    torch.randn(3)  # a later cell that draws random numbers: the data order would differ
    accumulate = next(d for d in report.diagnoses if d.code == "NBG301")
    assert report.trials.try_fix(accumulate).baseline is not None


def test_a_trial_after_the_objects_changed_runs_the_cell_again_first():
    ns = _namespace()
    report = nbgrad.gradcheck(BROKEN, namespace=ns, timeout=30)
    eval_mode = next(d for d in report.diagnoses if d.code == "NBG651")
    accumulate = next(d for d in report.diagnoses if d.code == "NBG301")
    with torch.no_grad():  # another cell trained a little after the check
        ns["model"][0].weight.add_(0.01)
    v = report.trials.try_fix(eval_mode)
    assert v.baseline is not None and v.baseline.ran and v.baseline.label == "your cell again"
    assert v.original_losses == v.baseline.losses != v.trial.losses
    assert v.baseline.losses[0] != report.run.steps[0].losses[0]  # the changed weights' loss
    assert "your cell was run again from their state now" in v.verdict
    # the state before the cell is gone for good: every later trial runs the cell again too
    assert report.trials.try_fix(accumulate).baseline is not None


def test_try_all_fixes_tries_each_alone_then_together_and_shows_the_table():
    from nbgrad.render.widget import Dashboard
    from tests.rendered import NoFigures, html_tables, text_tables

    report = nbgrad.gradcheck(BROKEN, namespace=_namespace(), timeout=30)
    dash = Dashboard(report, NoFigures(report))
    dash.trials.button.click()
    assert all(r.diagnosis.verification is not None for r in dash.rows
               if r.diagnosis.code in ("NBG301", "NBG651"))
    assert report.verification is not None and report.verification.together is not None
    shown = html_tables(dash.trials.widget.children[0].value)["Fixes tried"]
    assert shown == text_tables(report.to_text())["Fixes tried"]
    assert all(r.fix_button is not None for r in dash.rows if r.diagnosis.verification)
    dash.close()


@pytest.mark.parametrize("name, tables", [
    ("lr_huge", {"Fixes tried", "Learning rates tried for NBG403"}),
    ("no_zero_grad", {"Fixes tried"})])
def test_every_view_of_a_verified_report_agrees(name, tables):
    from tests.rendered import text_tables
    from tests.test_consistency import assert_views_agree

    report = verified(name)
    assert tables <= set(text_tables(report.to_text()))
    assert_views_agree(report)  # each of them is the HTML's table of that title, cell for cell


def test_a_function_is_not_corrected_and_the_report_says_why():
    ns = _namespace()

    def train() -> None:
        exec(BROKEN, ns)
    report = nbgrad.gradcheck(train, namespace=ns, timeout=30, verify=True)
    assert report.trials is None and all(d.verification is None for d in report.diagnoses)
    assert report.verification is not None
    assert report.verification.verdict.startswith("Fixes were not tried: nbgrad corrects a "
                                                  "cell's source, and this check ran a function")


def test_a_report_saved_before_verification_existed_still_loads():
    data = json.loads(verified("no_zero_grad").to_json())
    data.pop("verification")
    for d in data["diagnoses"]:
        d.pop("edits"), d.pop("verification")
    report = Report.from_json(json.dumps(data))
    (d,) = [d for d in report.diagnoses if d.code == "NBG301"]
    assert d.edits == [] and d.verification is None and report.verification is None
    assert fixes.corrected_cell(report.run, d) is not None  # from the rule's own line
