"""The spine: what a run records, checked against plain autograd (oracle tests)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.records import Run
from nbgrad.report import Report

SEEDS = Path(__file__).parent / "seeds"

MLP = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(16, 4); y = torch.randn(16, 1)
for i in range(10**9):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
"""


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def oracle(steps: int) -> list[dict[str, dict[str, float]]]:
    """The same loop without nbgrad: per step, per parameter, the norms computed by hand."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(16, 4)
    y = torch.randn(16, 1)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt.step()
        out.append({n: {"grad": p.grad.norm().item(), "param": before[n].norm().item(),
                        "update": (p.detach() - before[n]).norm().item(),
                        "zero": (p.grad == 0).float().mean().item(), "loss": loss.item()}
                    for n, p in model.named_parameters()})
    return out


def test_numbers_equal_plain_autograd(check):
    report = check(MLP, steps=4)
    expected = oracle(4)
    assert [s.index for s in report.run.steps] == [0, 1, 2, 3]
    for step, want in zip(report.run.steps, expected):
        assert set(step.params) == {"0.weight", "0.bias", "2.weight", "2.bias"}
        for name, w in want.items():
            got = step.params[name]
            assert got.grad_norm == pytest.approx(w["grad"], rel=1e-5)
            assert got.param_norm == pytest.approx(w["param"], rel=1e-5)
            assert got.update_norm == pytest.approx(w["update"], rel=1e-4, abs=1e-7)
            assert got.update_to_param_ratio == pytest.approx(w["update"] / w["param"], rel=1e-4)
            if step.index in report.run.forward.windows:  # counted in the probe's windows only
                assert got.grad_zero_fraction == pytest.approx(w["zero"], abs=1e-6)
            else:
                assert got.grad_zero_fraction is None
        assert step.losses == [pytest.approx(w["loss"], rel=1e-6)]
        assert step.backward_calls == 1
        layer = step.layers["0"]
        assert layer.grad_norm == pytest.approx(
            math.hypot(want["0.weight"]["grad"], want["0.bias"]["grad"]), rel=1e-5)


def test_records_layers_optimizer_and_call_sites(check):
    report = check(MLP, steps=3)
    run = report.run
    assert run.stopped_by == "steps"
    assert list(run.layers) == ["0", "2"]
    assert run.layers["0"].type == "Linear"
    assert run.params["2.weight"].optimizer == 0 and run.params["2.weight"].param_group == 0
    (opt,) = run.optimizers
    assert (opt.name, opt.type, opt.steps) == ("opt", "SGD", 3)
    assert opt.before.groups[0]["lr"] == 0.1 and opt.before.groups[0]["momentum"] == 0.9
    assert opt.before.buffers == {}  # fresh SGD: no momentum buffer before the first step
    assert set(opt.after.buffers["0.weight"]) == {"momentum_buffer"}
    off = check.line_offset
    kinds = {(e.kind, e.line) for e in run.events}
    assert ("zero_grad", line_of(MLP, "opt.zero_grad") + off) in kinds
    assert ("backward", line_of(MLP, "loss.backward") + off) in kinds
    assert ("step", line_of(MLP, "opt.step") + off) in kinds
    assert [e.kind for e in run.events if e.step == 1] == ["zero_grad", "backward", "step"]


def test_momentum_buffer_norm_matches_state_dict(check):
    ns: dict = {}
    report = check(MLP, namespace=ns, steps=2)
    opt = ns["opt"]
    model = ns["model"]
    buf = opt.state[model[0].weight]["momentum_buffer"].norm().item()
    assert report.run.optimizers[0].after.buffers["0.weight"]["momentum_buffer"] == \
        pytest.approx(buf, rel=1e-5)


def test_stops_a_while_true_loop_without_traceback(check):
    cell = MLP.replace("for i in range(10**9):", "while True:")
    report = check(cell, steps=5)
    assert len(report.run.steps) == 5 and report.run.stopped_by == "steps"


def test_dataloader_with_workers_stops_and_workers_exit(check):
    cell = """
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
data = TensorDataset(torch.randn(400, 3), torch.randn(400, 1))
loader = DataLoader(data, batch_size=4, num_workers=2)
for epoch in range(100):
    for x, y in loader:
        opt.zero_grad(); loss = nn.functional.mse_loss(model(x), y); loss.backward(); opt.step()
"""
    import multiprocessing
    report = check(cell, steps=3)
    assert len(report.run.steps) == 3
    import gc
    import time
    gc.collect()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []


def test_cell_without_step_ends_at_timeout_and_says_what_was_seen(check):
    cell = """
model = nn.Linear(3, 1)
x = torch.randn(8, 3)
while True:
    loss = model(x).pow(2).mean()
    loss.backward()
"""
    report = check(cell, steps=3, timeout=0.5)
    run = report.run
    assert run.stopped_by == "timeout" and run.steps == []
    assert run.backward_calls > 0
    from nbgrad.diagnose.outcome import no_step_reason

    assert no_step_reason(run) == \
        f"backward() was called {run.backward_calls} times, but no optimizer.step()."
    assert report.verdict == "1 problem found: optimizer.step() is never called: the weights never " \
        f"change (line {6 + check.line_offset})"


def test_cell_that_finishes_before_steps(check):
    cell = MLP.replace("range(10**9)", "range(2)")
    report = check(cell, steps=10)
    assert report.run.stopped_by == "finished" and len(report.run.steps) == 2


def test_no_training_at_all_is_reported_plainly(check):
    report = check("x = 1 + 1", steps=3)
    assert report.run.steps == [] and report.run.stopped_by == "finished"
    assert report.verdict.startswith("No optimizer step was seen: no module ran a forward pass")


def test_user_exception_reaches_user_with_steps_before_it(check):
    cell = MLP.replace("    opt.step()", "    opt.step()\n    if i == 2: raise ValueError('boom')")
    with pytest.raises(ValueError, match="boom"):
        check(cell, steps=10)
    report = nbgrad.last_report()
    assert len(report.run.steps) == 3 and report.run.stopped_by == "error"
    assert report.run.error.type == "ValueError"
    assert report.run.error.line == line_of(cell, "raise ValueError") + check.line_offset


def test_keyboard_interrupt_propagates_and_is_recorded(check):
    cell = MLP.replace("    opt.step()", "    opt.step()\n    if i == 1: raise KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        check(cell, steps=10)
    assert nbgrad.last_report().run.stopped_by == "interrupt"
    assert len(nbgrad.last_report().run.steps) == 2


def test_gan_two_optimizers(check):
    cell = """
torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
D = nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()
while True:
    real = torch.randn(8, 2) + 3; z = torch.randn(8, 2)
    opt_d.zero_grad()
    d_loss = bce(D(real), torch.ones(8, 1)) + bce(D(G(z).detach()), torch.zeros(8, 1))
    d_loss.backward(); opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(D(G(z)), torch.ones(8, 1))
    g_loss.backward(); opt_g.step()
"""
    report = check(cell, steps=3)
    run = report.run
    assert [o.name for o in run.optimizers] == ["opt_d", "opt_g"]
    assert [o.steps for o in run.optimizers] == [3, 3]
    assert [s.optimizer for s in run.steps] == [0, 1] * 3
    assert run.params["G.0.weight"].optimizer == 1 and run.params["D.0.weight"].optimizer == 0
    d_step = run.steps[0]
    assert d_step.params["D.0.weight"].update_norm > 0
    assert d_step.params["G.0.weight"].update_norm is None  # opt_d does not hold G's weights
    assert all(s.optimizer for s in run.steps if "G.0.weight" in s.params
               and s.params["G.0.weight"].update_norm)
    assert set(run.optimizers[0].after.buffers["D.0.weight"]) == {"step", "exp_avg", "exp_avg_sq"}
    assert run.optimizers[0].after.buffers["D.0.weight"]["step"] == 3


def test_lbfgs_closure_counts_inner_backward_calls(check):
    cell = """
torch.manual_seed(0)
model = nn.Linear(3, 1)
opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
x = torch.randn(32, 3); y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
def closure():
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    return loss
for i in range(100):
    opt.step(closure)
"""
    report = check(cell, steps=2)
    run = report.run
    assert run.optimizers[0].closure and len(run.steps) == 2
    assert all(s.backward_calls >= 2 for s in run.steps)
    assert all(len(s.losses) == s.backward_calls for s in run.steps)
    assert run.steps[0].params["model.weight"].grad_norm > 0
    assert run.steps[1].losses[0] < run.steps[0].losses[0]


def test_scheduler_lr_recorded_per_step(check):
    cell = MLP.replace(
        "for i in range(10**9):",
        "sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)\nfor i in range(10**9):",
    ).replace("    opt.step()", "    opt.step(); sched.step()")
    report = check(cell, steps=3)
    assert [s.lr[0] for s in report.run.steps] == pytest.approx([0.1, 0.05, 0.025])
    # the loop stops right after the third opt.step(), before that iteration's sched.step()
    assert report.run.optimizers[0].after.groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)


def test_custom_optimizer_subclass_is_recorded(check):
    cell = """
class Sign(torch.optim.Optimizer):
    def __init__(self, params, lr):
        super().__init__(params, dict(lr=lr))
    @torch.no_grad()
    def step(self, closure=None):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    p.add_(p.grad.sign(), alpha=-g["lr"])
torch.manual_seed(0)
model = nn.Linear(5, 1)
opt = Sign(model.parameters(), lr=0.01)
while True:
    opt.zero_grad(); model(torch.randn(4, 5)).sum().backward(); opt.step()
"""
    report = check(cell, steps=2)
    w = report.run.steps[0].params["model.weight"]
    assert report.run.optimizers[0].type == "Sign"
    assert w.update_norm == pytest.approx(0.01 * math.sqrt(5), rel=1e-5)


def test_json_round_trip_keeps_everything(check):
    report = check(MLP, steps=2)
    again = Report.from_json(report.to_json())
    assert again.run == report.run and again.diagnoses == report.diagnoses
    assert isinstance(Run.from_json(report.run.to_json()).steps[0].params["0.weight"].grad_norm,
                      float)


@pytest.mark.parametrize("name", ["example1_step_then_zero_grad", "example2_sigmoid",
                                  "example3_reciprocal_loss"])
def test_article_examples_are_recorded_correctly(name):
    source = (SEEDS / f"{name}.py").read_text()
    torch.manual_seed(0)
    report = nbgrad.gradcheck(source, steps=5, namespace={"__name__": "__main__"})
    run = report.run
    assert len(run.steps) == 5
    # replay the same loop by hand from the same seed and compare the first step
    torch.manual_seed(0)
    ns: dict = {"__name__": "__main__"}
    exec(source.split("for i in range")[0], ns)
    model, criterion = ns["model"], ns.get("criterion") or ns["custom_loss"]
    out = model(ns["input_data"])
    loss = criterion(out, ns["target"])
    loss.backward()
    assert run.steps[0].losses[0] == pytest.approx(loss.item(), rel=1e-6)
    for pname, p in model.named_parameters():
        assert run.steps[0].params[pname].grad_norm == pytest.approx(p.grad.norm().item(),
                                                                     rel=1e-5)
    if name == "example1_step_then_zero_grad":
        kinds = [e.kind for e in run.events if e.step == 1]
        assert kinds == ["zero_grad", "backward", "step"]  # cleared after step: correct


def test_an_object_whose_class_raises_does_not_spoil_the_names(check):
    class Proxy:
        @property
        def __class__(self):
            raise RuntimeError("a lazy proxy that cannot say what it is")

    report = check(MLP, namespace={"proxy": Proxy()}, steps=2)
    assert report.analysis_error is None
    assert set(report.run.layers) == {"0", "2"}


def test_gradients_changed_in_place_before_the_step_are_measured_as_the_step_sees_them(check):
    cell = MLP.replace("    opt.step()", "    for p in model.parameters():\n"
                                         "        p.grad.mul_(0.5)\n    opt.step()")
    report = check(cell, steps=2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    ((model(x) - y) ** 2).mean().backward()
    want = 0.5 * model[0].weight.grad.norm().item()
    assert report.run.steps[0].params["0.weight"].grad_norm == pytest.approx(want, rel=1e-5)
