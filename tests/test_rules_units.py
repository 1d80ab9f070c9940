"""Rules on hand-built runs: the edges where a rule must stay silent, and whole messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
from nbgrad import thresholds
from nbgrad.diagnose import diagnose
from nbgrad.diagnose.rules import exceptions, learning_rate, loss_trend, step_size
from nbgrad.records import (
    ErrorInfo,
    Event,
    LayerInfo,
    LayerStats,
    OptimizerRecord,
    OptimizerState,
    ParamInfo,
    ParamStats,
    Run,
    StepRecord,
)

SEEDS = Path(__file__).parent / "seeds"

SOURCE = """model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
while True:
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
"""


def make_run(losses: list[float], *, lr: float | list[float] = 0.1, ratio: float = 1e-3,
             grad: float = 1.0, param: float = 1.0, same_batch: bool = True,
             stale: list[float] | None = None, optimizer_type: str = "SGD",
             weight_decay: float = 0.0, events: list[Event] | None = None,
             error: ErrorInfo | None = None, source: str = SOURCE) -> Run:
    """One optimizer over one Linear layer `fc`, one step per loss value."""
    lrs = lr if isinstance(lr, list) else [lr] * len(losses)
    group = {"lr": lrs[-1] if lrs else lr, "weight_decay": weight_decay}
    steps = []
    for i, loss in enumerate(losses):
        stats = ParamStats(grad_norm=grad, grad_zero_fraction=0.0, param_norm=param,
                           update_norm=ratio * param, update_to_param_ratio=ratio)
        steps.append(StepRecord(
            index=i, optimizer=0, losses=[loss], backward_calls=1, lr=[lrs[i]],
            grads_before_backward=None, grads_present_before_backward=False, duration_s=0.01,
            params={"fc.weight": stats},
            layers={"fc": LayerStats(grad, 0.0, param, ratio * param, ratio)},
            stale_grad_norm=(stale[i] if stale else 0.0), backward_grad_norm=grad,
            batch_fingerprint=[1.0, 2.0] if same_batch else [float(i), 2.0]))
    if events is None:
        events = [Event(kind, i, line) for i in range(len(losses))
                  for kind, line in (("zero_grad", 4), ("backward", 6), ("step", 7))]
    state = OptimizerState(groups=[group], buffers={})
    return Run(
        source=source, first_line=1, steps_requested=len(losses), timeout_s=60, stopped_by="steps",
        elapsed_s=0.1,
        params={"fc.weight": ParamInfo("fc.weight", "fc", [1, 4], 4, "float32", "cpu", True, 0, 0)},
        layers={"fc": LayerInfo("fc", "Linear", ["fc.weight"], True, forward_order=0,
                                forward_line=5, first_step=0)},
        optimizers=[OptimizerRecord("opt", optimizer_type, [["fc.weight"]], len(losses), state,
                                    state)],
        steps=steps, events=events, error=error)


def codes(run: Run) -> list[str]:
    return [d.code for d in diagnose(run)]


# -- loss over the steps ---------------------------------------------------------------------------

RISING = [1.0, 1.2, 1.5, 1.9, 2.4, 3.0, 3.8, 4.7, 5.9]  # 5.9x from first to last


def test_rise_on_the_same_batch_with_large_steps_is_a_learning_rate_too_large():
    (d,) = loss_trend.loss_trend(make_run(RISING, ratio=0.3))
    assert (d.code, d.severity, d.line) == ("NBG403", "error", 2)
    assert d.title == "The learning rate (0.1) is too large: the loss diverges"
    assert d.fix_code == "opt = torch.optim.SGD(model.parameters(), lr=0.01)"


def test_rise_on_the_same_batch_with_small_steps_is_reported_without_blaming_the_lr():
    (d,) = loss_trend.loss_trend(make_run(RISING, ratio=1e-3))
    assert (d.code, d.severity) == ("NBG702", "warning")


def test_a_several_fold_rise_across_changing_batches_is_not_a_divergence():
    assert loss_trend.loss_trend(make_run(RISING, ratio=0.3, same_batch=False)) == []
    assert loss_trend.loss_trend(make_run(RISING, ratio=1e-3, same_batch=False)) == []


def test_a_tenfold_rise_across_changing_batches_with_large_steps_is():
    losses = [1.0, 1.5, 2.5, 5.0, 9.0, 15.0, 30.0, 60.0, 100.0]
    assert codes(make_run(losses, ratio=0.3, same_batch=False)) == ["NBG403"]


def test_a_loss_that_turns_nan_after_large_steps_names_the_step():
    (d,) = loss_trend.loss_trend(make_run([1.0, 3.0, 40.0, float("nan"), float("nan")], ratio=2.0))
    assert d.code == "NBG403"
    assert d.evidence[0].text == "loss per step: 1, 3, 40; then became nan at step 3"


def test_gradients_that_accumulate_explain_a_rising_loss():
    run = make_run(RISING, ratio=0.3, stale=[0.0] + [5.0] * 8)
    assert codes(run) == ["NBG301"]


def test_rises_on_the_same_batch_with_large_steps_are_overshooting():
    zigzag = [1.0, 1.3, 0.9, 1.25, 0.85, 1.2, 0.95, 1.15, 0.9]
    (d,) = loss_trend.loss_trend(make_run(zigzag, ratio=0.3))
    assert (d.code, d.severity) == ("NBG703", "warning")
    assert d.title == "The loss goes up at 4 of 8 steps on the same batch: the steps overshoot"
    assert loss_trend.loss_trend(make_run(zigzag, ratio=0.01)) == []  # small steps: noise (dropout)
    assert loss_trend.loss_trend(make_run(zigzag, ratio=0.3, same_batch=False)) == []


def test_flat_loss_note_only_on_the_same_batch_and_not_while_warming_up():
    flat = [2.0, 2.01, 1.99, 2.0, 2.02, 1.98, 2.0, 1.99, 2.0]
    (d,) = loss_trend.loss_trend(make_run(flat, ratio=1e-2))
    assert (d.code, d.severity) == ("NBG701", "info")
    assert loss_trend.loss_trend(make_run(flat, ratio=1e-2, same_batch=False)) == []
    warmup = [0.001 * i for i in range(1, 10)]
    assert loss_trend.loss_trend(make_run(flat, ratio=1e-2, lr=warmup)) == []
    assert loss_trend.loss_trend(make_run(flat, ratio=1e-7)) == []  # converged: weights still


def test_too_few_steps_for_a_trend():
    assert loss_trend.loss_trend(make_run(RISING[:5], ratio=0.3)) == []


# -- learning rate -----------------------------------------------------------------------------------

def test_tiny_lr_is_blamed_only_when_the_gradient_is_not_tiny():
    tiny = make_run([1.0] * 6, lr=1e-9, ratio=1e-9, grad=1.0)  # at lr 1e-3 the update would be 1e-3
    (d,) = learning_rate.lr_too_small(tiny)
    assert (d.code, d.severity, d.line, d.layers) == ("NBG402", "warning", 2, ["fc"])
    assert d.evidence[1].text == ("the same gradients at lr = 0.001 would change them by 0.001 per "
                                  "step (healthy: above 1.00e-04)")
    assert d.fix_code == "opt = torch.optim.SGD(model.parameters(), lr=0.001)"
    converged = make_run([1e-9] * 6, lr=1e-5, ratio=1e-9)  # at lr 1e-3: 1e-7, gradient is tiny
    assert learning_rate.lr_too_small(converged) == []


def test_warm_up_from_zero_is_not_a_zero_or_tiny_lr():
    warmup = [0.0, 1e-8, 2e-8, 3e-8, 4e-8, 5e-8]
    run = make_run([1.0] * 6, lr=warmup, ratio=1e-9)
    assert learning_rate.lr_zero(run) == [] and learning_rate.lr_too_small(run) == []
    assert [d.code for d in learning_rate.lr_zero(make_run([1.0] * 6, lr=0.0, ratio=0.0))] == \
        ["NBG401"]


# -- gradient clearing -----------------------------------------------------------------------------

def test_leftover_gradients_of_a_previous_cell_at_the_first_step_are_not_accumulation():
    assert codes(make_run([1.0, 0.9, 0.8], stale=[3.0, 0.0, 0.0])) == []
    assert codes(make_run([1.0, 0.9, 0.8], stale=[0.0, 3.0, 3.0])) == ["NBG301"]
    assert codes(make_run([1.0, 0.9, 0.8], stale=[0.0, 1e-5, 1e-5])) == []  # below 1/1000


def test_accumulation_message():
    (d,) = [d for d in diagnose(make_run([1.0, 0.9, 0.8], stale=[0.0, 3.0, 3.0]))]
    assert d.title == "Gradients accumulate across steps: zero_grad() is missing"
    assert [e.text for e in d.evidence] == [
        "before the backward() of step 1, the parameters of 'opt' still held gradients of norm 3 "
        "from earlier steps; the step applied their sum (norm 1)",
        "leftover gradients at 2 of 2 steps after the first",
        "zero_grad() at line 4 did not clear 'opt''s parameters at these steps",
    ]
    assert (d.fix, d.fix_code, d.line) == (
        "Call opt.zero_grad() once per step, before loss.backward() (line 6).", "opt.zero_grad()", 6)


# -- GradScaler --------------------------------------------------------------------------------------

def _skips(scales: list[float], then_steps: int = 0) -> Run:
    run = make_run([1.0] * then_steps)
    run.events = [Event("step_skipped", 0, 7, "SGD", f"scale={s:g}", s) for s in scales] + run.events
    return run


def test_grad_scaler_finding_its_scale_is_not_reported():
    assert step_size.grad_scaler_skips(_skips([65536.0, 32768.0, 16384.0], then_steps=3)) == []


def test_grad_scaler_without_update_is_reported_whole():
    (d,) = step_size.grad_scaler_skips(_skips([65536.0] * 4))
    assert (d.code, d.slug, d.severity) == ("NBG406", "grad-scaler-skips", "error")
    assert d.title == "The GradScaler skips every step: opt.update() is never called"
    assert d.evidence[-1].text == ("the scale stayed at 65536 from one skipped step to the "
                                   "next: opt.update() is not called, so it never lowers the scale")
    assert (d.fix_code, d.line) == ("opt.update()", 7)


# -- exceptions -------------------------------------------------------------------------------------

def _failed(message: str, kind: str = "RuntimeError", line: int = 5, source: str = SOURCE) -> Run:
    run = make_run([], error=ErrorInfo(kind, message, line), source=source)
    run.stopped_by = "error"
    return run


def test_shape_mismatch_points_at_the_layer_and_rewrites_it():
    source = "model = nn.Sequential(nn.Linear(784, 10))\nloss = loss_fn(model(x), y)\n"
    run = _failed("mat1 and mat2 shapes cannot be multiplied (32x728 and 784x10)", line=2,
                  source=source)
    (d,) = exceptions.explain_error(run)
    assert (d.code, d.line, d.fix_code) == (
        "NBG906", 1, "model = nn.Sequential(nn.Linear(728, 10))")
    assert [e.text for e in d.evidence] == [
        "line 2 raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x728 and 784x10)",
        "the input reaching the Linear layer has 728 features per row (32 rows), but the layer "
        "was built for 784 (nn.Linear(784, 10))",
    ]


def test_device_mismatch_on_a_gpu_is_explained():
    run = _failed("Expected all tensors to be on the same device, but found at least two devices, "
                  "cuda:0 and cpu!")
    (d,) = exceptions.explain_error(run)
    assert (d.code, d.slug, d.title) == ("NBG905", "device-mismatch",
                                         "The model and the data are on different devices")
    assert "x, y = x.to(device), y.to(device)" in d.fix


def test_device_mismatch_raised_for_real():
    """The meta device stands in for a GPU on CPU-only machines (its first use costs ~3 s)."""
    cell = ("import torch\nmodel = torch.nn.Linear(4, 1).to('meta')\nx = torch.randn(8, 4)\n"
            "loss = model(x).sum()\nloss.backward()\n")
    with pytest.raises(RuntimeError, match="is not on the expected device"):
        nbgrad.gradcheck(cell, steps=2)
    (d,) = nbgrad.last_report().diagnoses
    assert (d.code, d.line) == ("NBG905", 4)


def test_an_unknown_exception_gets_no_explanation():
    assert exceptions.explain_error(_failed("boom", kind="ValueError")) == []


def test_every_known_exception_has_a_distinct_catalogued_code():
    from nbgrad.diagnose.catalogue import CATALOGUE

    codes = [k.code for k in exceptions.KNOWN]
    assert len(set(codes)) == len(codes) and set(codes) <= set(CATALOGUE)


# -- thresholds and the article's examples -------------------------------------------------------------

def test_every_threshold_says_where_its_value_comes_from():
    table = thresholds.table()
    assert len(table) >= 12
    for name, value, source in table:
        assert name.isupper() and isinstance(value, float) and len(source) > 30, name


@pytest.mark.parametrize(("name", "problems"), [("example1_step_then_zero_grad", []),
                                              ("example2_sigmoid", []),
                                              ("example3_reciprocal_loss", ["NBG711"])])
def test_article_examples_get_exactly_their_own_problem(name, problems):
    """Example 1 is correct, 2 trains (its sigmoids are a note), 3's loss rewards moving away: no
    rule of any family may add a warning or error beside these."""
    source = (SEEDS / f"{name}.py").read_text()
    report = nbgrad.gradcheck(source, steps=10, namespace={"__name__": "__main__"})
    assert [d.code for d in report.problems] == problems
    if name == "example1_step_then_zero_grad":
        assert [d.code for d in report.diagnoses] == ["NBG304"]
        (note,) = report.diagnoses
        assert note.title == "zero_grad() after step() is correct: each step sees only its own gradient"
        assert note.line == source.splitlines().index("    optimizer.zero_grad() # Should be placed "
                                                      "before backprop") + 1
        assert report.verdict == f"No problems found in {len(report.run.steps)} steps"


# -- robustness and rendering --------------------------------------------------------------------------

numbers = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=150, deadline=None)
@given(losses=st.lists(numbers, max_size=12), ratio=st.floats(0, 10), grad=st.floats(0, 1e6),
       param=st.floats(0, 1e3), lr=st.floats(0, 10), same=st.booleans(),
       stale=st.floats(0, 1e3), decay=st.floats(0, 10))
def test_rules_never_fail_and_always_show_evidence(losses, ratio, grad, param, lr, same, stale,
                                                   decay):
    run = make_run(losses, ratio=ratio, grad=grad, param=param, lr=lr, same_batch=same,
                   stale=[0.0] + [stale] * max(len(losses) - 1, 0), weight_decay=decay)
    for d in diagnose(run):
        assert d.evidence and d.title and d.why and d.fix
        assert d.severity in ("error", "warning", "info")


def test_a_diagnosis_reads_in_the_text_report():
    from nbgrad.render.text import diagnosis_lines
    from nbgrad.report import Report

    run = make_run([1.0, 1.0, 1.0], ratio=0.0, grad=0.0)
    run.events = [Event(kind, i, line) for i in range(3)
                  for kind, line in (("backward", 6), ("zero_grad", 4), ("step", 7))]
    for step in run.steps:
        step.params["fc.weight"].grad_norm = None
        step.backward_grad_norm = 2.5
    report = Report(run=run, diagnoses=diagnose(run))
    assert diagnosis_lines(report) == [
        "[ERROR NBG302 zero-grad-before-step] zero_grad() runs between backward() and step(): every "
        "step sees no gradient (line 4)",
        "    evidence: at 3 of 3 steps, opt.step() found no gradient on its 1 parameter, although "
        "backward() does produce gradients",
        "    evidence: the calls run in the order backward() (line 6) -> zero_grad() (line 4) -> "
        "step() (line 7)",
        "    evidence: largest update of a parameter at these steps: norm 0",
        "    why: zero_grad() erases the gradients backward() just computed, so step() has nothing "
        "to apply and the model does not learn.",
        "    fix: Move opt.zero_grad() (line 4) before loss.backward() (line 6), or after "
        "opt.step(): zero_grad() -> backward() -> step().",
        "        # remove line 4: opt.zero_grad()",  # the edits: zero_grad() moved after step()
        "        # after line 7:",
        "        opt.zero_grad()",
    ]
    assert report.verdict == ("1 problem found: zero_grad() runs between backward() and step(): "
                              "every step sees no gradient (line 4)")


EMPTY_PARAM = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.dummy = nn.Parameter(torch.empty(0))  # a placeholder (a device marker, say)

    def forward(self, x):
        return self.fc(x)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 4)
for i in range(100):
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
"""


def test_an_empty_parameter_is_not_a_layer_without_gradient(shell):
    shell.run_cell(f"%%gradcheck --steps 3\n{EMPTY_PARAM}", store_history=False)
    report = nbgrad.last_report()
    assert report.analysis_error is None and report.diagnoses == []
    assert report.verdict == "No problems found in 3 steps"
    assert "dummy" not in report.outcome.unmoved  # nothing to move in 0 values


def test_a_layer_with_no_outputs_is_analysed_not_lost(shell):
    cell = ("model = nn.Linear(4, 0)\nhead = nn.Linear(4, 1)\n"
            "opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)\n"
            "x = torch.randn(8, 4)\nfor i in range(100):\n    opt.zero_grad()\n"
            "    (model(x).sum() + head(x).pow(2).mean()).backward()\n    opt.step()\n")
    shell.run_cell(f"%%gradcheck --steps 3\n{cell}", store_history=False)
    report = nbgrad.last_report()
    assert report.analysis_error is None and report.problems == []
    assert report.run.steps[0].layers["model"].grad_zero_fraction is None  # 0 of 0 values
    assert "Gradient norm per layer:" in report.to_text() and "<table>" in report.to_html()


def test_step_never_called_names_the_users_optimizer_built_in_an_earlier_cell(shell):
    shell.run_cell("model = nn.Linear(4, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                   "x = torch.randn(8, 4)")
    shell.run_cell("%%gradcheck --steps 3\nfor i in range(3):\n    opt.zero_grad()\n"
                   "    model(x).pow(2).mean().backward()\n", store_history=False)
    (d,) = nbgrad.last_report().diagnoses
    assert d.code == "NBG305" and d.fix_code == "opt.step()"
    assert d.fix == ("Call opt.step() after loss.backward() (line 4), and opt.zero_grad() before "
                     "the next backward().")


def test_a_gans_loss_trend_is_each_optimizers_own():
    from nbgrad.diagnose import facts
    from tests import zoo_runs

    run = zoo_runs.report("gan_tanh_generator").run
    trends = facts.loss_trends(run)
    assert sorted(t.optimizer for t in trends) == ["opt_d", "opt_g"]
    for trend in trends:
        (oi,) = [i for i, o in enumerate(run.optimizers) if o.name == trend.optimizer]
        own = [sum(s.losses) / len(s.losses) for s in run.steps if s.optimizer == oi]
        assert (trend.first, trend.last, trend.steps) == (own[0], own[-1], len(own))
        assert trend.text().startswith(f"the loss of '{trend.optimizer}' went from")
