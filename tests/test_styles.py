"""Training styles beyond the plain loop: mixed precision, GradScaler, torch.compile, gradient
checkpointing, tied parameters, DataParallel-style wrappers and manual SGD without an optimizer.

Each test compares the recorded numbers with the same loop run by hand without nbgrad.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import nbgrad

NAMES = ["0.weight", "0.bias", "2.weight", "2.bias"]


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def data(scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(16, 4), scale * torch.randn(16, 1)


def grads(model: nn.Module) -> dict[str, float]:
    return {n: p.grad.norm().item() for n, p in model.named_parameters()}


def assert_grads(step, want: dict[str, float], rel: float = 1e-5) -> None:
    for name, value in want.items():
        assert step.params[name].grad_norm == pytest.approx(value, rel=rel), name


# -- mixed precision ------------------------------------------------------------------------

AUTOCAST = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=LR)
SCALER
x = torch.randn(16, 4); y = Y_SCALE * torch.randn(16, 1)
for i in range(100):
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = ((model(x) - y) ** 2).mean()
    BACKWARD_AND_STEP
"""


def autocast_cell(scaler: str | None, y_scale: float = 1.0, lr: float = 0.1) -> str:
    cell = AUTOCAST.replace("LR", str(lr)).replace("Y_SCALE", str(y_scale))
    if scaler is None:
        return cell.replace("SCALER\n", "").replace("BACKWARD_AND_STEP",
                                                   "loss.backward()\n    opt.step()")
    return cell.replace("SCALER", f"scaler = {scaler}").replace(
        "BACKWARD_AND_STEP", "scaler.scale(loss).backward()\n    scaler.step(opt)\n    scaler.update()")


def autocast_oracle(steps: int, scaler: torch.amp.GradScaler | None, y_scale: float = 1.0,
                    lr: float = 0.1) -> list[dict]:
    """Per loop iteration: loss, scale used, whether the optimizer stepped, unscaled grad norms."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = data(y_scale)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = ((model(x) - y) ** 2).mean()
        before = [p.detach().clone() for p in model.parameters()]
        if scaler is None:
            loss.backward()
            out.append({"loss": loss.item(), "grads": grads(model), "stepped": True})
            opt.step()
            continue
        scale = scaler.get_scale()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        record = {"loss": loss.item(), "scale": scale, "grads": grads(model)}
        scaler.step(opt)
        scaler.update()
        record["stepped"] = any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
        out.append(record)
    return out


def test_autocast_bfloat16_records_the_same_numbers_as_plain_autograd(check):
    report = check(autocast_cell(None), steps=4)
    want = autocast_oracle(4, None)
    run = report.run
    assert len(run.steps) == 4 and run.skipped_steps == []
    for step, w in zip(run.steps, want):
        assert step.losses == [pytest.approx(w["loss"], rel=1e-6)]
        assert_grads(step, w["grads"])
        assert step.grad_scale is None
    assert report.problems == []


def test_gradscaler_losses_are_unscaled_and_its_scale_recorded(check):
    report = check(autocast_cell('torch.amp.GradScaler("cpu")'), steps=3)
    want = autocast_oracle(3, torch.amp.GradScaler("cpu"))
    assert all(w["stepped"] for w in want)  # the default scale does not overflow here
    run = report.run
    assert len(run.steps) == 3 and run.skipped_steps == []
    for step, w in zip(run.steps, want):
        assert step.grad_scale == w["scale"] == 65536.0
        assert step.losses == [pytest.approx(w["loss"], rel=1e-6)]  # not loss * 65536
        assert_grads(step, w["grads"])  # the optimizer sees unscaled gradients
    assert "GradScaler loss scale: 6.55e+04" in report.to_text()
    assert report.problems == []


def test_steps_skipped_by_the_gradscaler_are_shown_as_skipped(check):
    # A scale too large for these gradients: the first iterations overflow, the scaler skips them
    # and halves its scale, as a float16 run does in its first steps.
    # Skipped steps do not count towards --steps: the run goes on until 6 real steps.
    cell = autocast_cell('torch.amp.GradScaler("cpu", init_scale=2.0**127)', y_scale=10.0, lr=0.01)
    report = check(cell, steps=6)
    want = autocast_oracle(40, torch.amp.GradScaler("cpu", init_scale=2.0**127), 10.0, 0.01)
    sixth = [i for i, w in enumerate(want) if w["stepped"]][5]
    want = want[:sixth + 1]
    skipped = [w for w in want if not w["stepped"]]
    stepped = [w for w in want if w["stepped"]]
    assert len(skipped) >= 1 and len(stepped) == 6  # the oracle itself skips some, not all
    run = report.run
    assert len(run.skipped_steps) == len(skipped) and len(run.steps) == len(stepped)
    for rec, w in zip(run.skipped_steps, skipped):
        assert rec.grad_scale == w["scale"]
        assert rec.losses == [pytest.approx(w["loss"], rel=1e-6)]
        assert rec.after_step == 0 and rec.backward_calls == 1
        infinite = {n for n, g in w["grads"].items() if not torch.isfinite(torch.tensor(g))}
        assert set(rec.nonfinite_params) == infinite and infinite
    for step, w in zip(run.steps, stepped):
        assert step.grad_scale == w["scale"]
        assert_grads(step, w["grads"])
    (opt,) = run.optimizers
    assert (opt.steps, opt.skipped_steps) == (len(stepped), len(skipped))
    assert [e.kind for e in run.events].count("step_skipped") == len(skipped)
    text = report.to_text()
    assert f"({len(skipped)} more skipped by GradScaler)" in report.verdict
    assert "Steps skipped by the GradScaler:" in text
    assert "Steps skipped by the GradScaler" in report.to_html()
    assert report.problems == []
    assert nbgrad.Report.from_json(report.to_json()).run == run


# -- compiled, checkpointed, tied, wrapped ----------------------------------------------------

LOOP = """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(16, 4); y = torch.randn(16, 1)
for i in range(100):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
"""


def plain_oracle(steps: int) -> list[dict[str, float]]:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = data()
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        out.append(grads(model))
        opt.step()
    return out


def test_compiled_model_is_recorded_under_its_own_layer_names(check):
    # aot_eager runs dynamo and AOTAutograd, where nbgrad's hooks meet the compiler; inductor adds
    # only code generation (about 26 s of C++ compiling on a cold cache here: too slow for a test).
    cell = "torch.manual_seed(0)\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n" \
           "model = torch.compile(net, backend='aot_eager')\n" + LOOP
    torch._dynamo.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check(cell, steps=3)
    assert not [w for w in caught if "global hooks" in str(w.message)]
    run = report.run
    assert list(run.params) == NAMES and list(run.layers) == ["0", "2"]
    assert run.params["0.weight"].aliases == ["_orig_mod.0.weight"]
    assert run.layers["2"].aliases == ["_orig_mod.2"]
    for step, want in zip(run.steps, plain_oracle(3)):
        assert_grads(step, want)
    assert report.problems == []


def test_compiled_model_with_the_default_inductor_backend():
    # What a student writes: torch.compile(model). C++ code generation takes about 25 s on a cold
    # cache here, so this one runs through the API only.
    cell = "torch.manual_seed(0)\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n" \
           "model = torch.compile(net)\n" + LOOP
    torch._dynamo.reset()
    ns: dict = {"torch": torch, "nn": nn}
    report = nbgrad.gradcheck(cell, steps=3, namespace=ns)
    run = report.run
    assert list(run.params) == NAMES and len(run.steps) == 3
    for step, want in zip(run.steps, plain_oracle(3)):
        assert_grads(step, want, rel=1e-4)
    assert report.problems == []


@pytest.mark.parametrize("reentrant", [False, True])
def test_gradient_checkpointing_counts_one_backward_per_step(check, reentrant):
    cell = f"""
from torch.utils.checkpoint import checkpoint
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Linear(8, 1)
    def forward(self, x):
        return self.head(checkpoint(self.body, x, use_reentrant={reentrant}))
model = Net()
""" + LOOP.replace("torch.randn(16, 4)", f"torch.randn(16, 4, requires_grad={reentrant})")
    report = check(cell, steps=3)
    run = report.run
    assert [s.backward_calls for s in run.steps] == [1, 1, 1]
    assert run.backward_calls == 3
    assert list(run.layers) == ["body.0", "head"]
    for step, want in zip(run.steps, plain_oracle(3)):
        assert_grads(step, {"body.0.weight": want["0.weight"], "head.weight": want["2.weight"]})
    assert report.problems == []


def test_tied_weights_are_one_parameter_with_an_alias(check):
    cell = """
class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(10, 6)
        self.decode = nn.Linear(6, 10, bias=False)
        self.decode.weight = self.embed.weight
    def forward(self, tokens):
        return self.decode(torch.tanh(self.embed(tokens)))
model = TiedLM()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
tokens = torch.tensor([1, 2, 3, 4]); targets = torch.tensor([2, 3, 4, 5])
for i in range(100):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(tokens), targets)
    loss.backward()
    opt.step()
"""
    report = check(cell, steps=2)
    torch.manual_seed(0)
    embed = nn.Embedding(10, 6)
    weight = embed.weight.detach().clone().requires_grad_()
    tokens, targets = torch.tensor([1, 2, 3, 4]), torch.tensor([2, 3, 4, 5])
    loss = nn.functional.cross_entropy(torch.tanh(weight[tokens]) @ weight.T, targets)
    loss.backward()  # both uses of the one tensor add into one gradient
    run = report.run
    assert list(run.params) == ["embed.weight"]
    assert run.params["embed.weight"].aliases == ["decode.weight"]
    first = run.steps[0].params["embed.weight"]
    assert first.grad_norm == pytest.approx(weight.grad.norm().item(), rel=1e-5)
    assert first.update_norm == pytest.approx(0.5 * weight.grad.norm().item(), rel=1e-5)
    assert run.steps[0].layers["embed"].grad_norm == pytest.approx(first.grad_norm, rel=1e-6)
    assert report.problems == []


def test_dataparallel_names_drop_module_prefix_but_keep_it_as_alias(check):
    cell = "torch.manual_seed(0)\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n" \
           "model = nn.DataParallel(net)\n" + LOOP
    report = check(cell, steps=3)
    run = report.run
    assert list(run.params) == NAMES
    assert run.params["2.bias"].aliases == ["module.2.bias"]
    assert run.layers["0"].aliases == ["module.0"] and run.layers["0"].type == "Linear"
    assert "module." not in report.to_text()
    for step, want in zip(run.steps, plain_oracle(3)):
        assert_grads(step, want)
    assert report.problems == []


# -- manual SGD without an optimizer ----------------------------------------------------------

MANUAL = """
torch.manual_seed(0)
w = torch.randn(4, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
x = torch.randn(16, 4); y = torch.randn(16, 1)
iterations = 0
for i in range(LOOPS):
    iterations += 1
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
    w.grad.zero_(); b.grad.zero_()
"""


def manual_oracle(steps: int) -> list[dict[str, float]]:
    torch.manual_seed(0)
    w = torch.randn(4, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    out = []
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        out.append({"loss": loss.item(), "w": w.grad.norm().item(), "b": b.grad.norm().item(),
                    "w_norm": w.norm().item()})
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return out


def test_manual_sgd_on_raw_tensors_is_recognised_and_stopped(check):
    ns: dict = {}
    report = check(MANUAL.replace("LOOPS", "10**9"), namespace=ns, steps=4)
    run = report.run
    assert run.steps == [] and run.optimizers == [] and run.stopped_by == "steps"
    assert ns["iterations"] == 5  # stopped at the backward() of the iteration after the 4th update
    assert len(run.manual_steps) == 4 and set(run.params) == {"w", "b"}
    for step, want in zip(run.manual_steps, manual_oracle(4)):
        assert step.optimizer == -1 and step.lr == [] and step.backward_calls == 1
        assert step.losses == [pytest.approx(want["loss"], rel=1e-6)]
        assert step.params["w"].grad_norm == pytest.approx(want["w"], rel=1e-5)
        assert step.params["b"].grad_norm == pytest.approx(want["b"], rel=1e-5)
        assert step.params["w"].param_norm == pytest.approx(want["w_norm"], rel=1e-5)
        assert step.params["w"].update_norm == pytest.approx(0.1 * want["w"], rel=1e-4)
    assert report.verdict.startswith("No optimizer was used: 4 manual updates seen")
    assert "no optimizer step" not in report.verdict.lower()
    kinds = [(e.kind, e.step) for e in run.events]
    assert kinds[:4] == [("backward", 0), ("manual_update", 0), ("backward", 1), ("manual_update", 1)]
    text = report.to_text()
    assert "no optimizer was used" in text and "Layers at manual update 3:" in text
    assert report.problems == []


def test_manual_updates_leave_unchanged_graph_inputs_out(check):
    cell = MANUAL.replace("LOOPS", "10**9").replace("x = torch.randn(16, 4)",
                                                    "x = torch.randn(16, 4, requires_grad=True)")
    report = check(cell, steps=2)
    assert set(report.run.params) == {"w", "b"}  # x gets a gradient but is never updated
    assert len(report.run.manual_steps) == 2


def test_manual_update_through_data_of_a_module_is_seen_until_the_loop_ends(check):
    # `p.data -= ...` does not bump the version counter: nbgrad compares values, not versions.
    cell = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
x = torch.randn(16, 4); y = torch.randn(16, 1)
for i in range(3):
    model.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
"""
    report = check(cell, steps=10)
    run = report.run
    assert run.stopped_by == "finished"
    assert len(run.manual_steps) == 3  # the last update is found after the cell ended
    for step, want in zip(run.manual_steps, plain_oracle(3)):
        assert_grads(step, want)
        assert step.params["2.weight"].update_norm == pytest.approx(0.1 * want["2.weight"], rel=1e-4)


def test_gradient_accumulation_with_an_optimizer_is_not_a_manual_update(check):
    cell = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(16, 4); y = torch.randn(16, 1)
for i in range(100):
    opt.zero_grad()
    for half in (slice(0, 8), slice(8, 16)):
        loss = ((model(x[half]) - y[half]) ** 2).mean() / 2
        loss.backward()
    opt.step()
"""
    report = check(cell, steps=3)
    run = report.run
    assert run.manual_steps == [] and len(run.steps) == 3
    assert [s.backward_calls for s in run.steps] == [2, 2, 2]
    for step, want in zip(run.steps, plain_oracle(3)):
        assert_grads(step, want)  # the two halves add up to the full batch's gradient
