"""The forward probe: its numbers equal values computed by hand on the same seeded model, and it
leaves nothing behind (modes, hooks, warnings' locations) whatever way the cell ends."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import nbgrad
from nbgrad.capture import forward_stats
from nbgrad.records import SLOPE_EDGES
from nbgrad.thresholds import SATURATION_SLOPE

CELL = """
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.act1 = nn.Sigmoid()
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        h = self.act1(self.fc1(x))
        h = torch.tanh(self.fc2(h))
        h = F.relu(self.fc3(h) - 0.3)
        return self.out(h)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.randn(32, 6) * 3
y = torch.randn(32, 1)
for i in range(100):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""
STEPS = 4


def check(cell: str, **options) -> nbgrad.Report:
    return nbgrad.gradcheck(cell, namespace={"torch": torch, "nn": nn, "F": F}, **options)


def line_of(text: str) -> int:
    return next(i for i, line in enumerate(CELL.splitlines(), 1) if text in line)


def slope_shares(relative: torch.Tensor) -> list[float]:
    """By hand: share of values whose slope (over the largest) is below SLOPE_EDGES[0], then in
    each interval between edges (a slope of exactly 1 belongs to the last)."""
    r = relative.double().reshape(-1)
    index = torch.bucketize(r, torch.tensor(SLOPE_EDGES, dtype=torch.float64), right=True)
    counts = torch.bincount(index.clamp(max=len(SLOPE_EDGES) - 1), minlength=len(SLOPE_EDGES))
    return (counts.double() / r.numel()).tolist()


def share_below(relative: torch.Tensor, level: float) -> float:
    return (relative.double() < level).double().mean().item()


def by_hand(steps: int) -> list[dict]:
    """The same loop without nbgrad; per step, the statistics computed in plain torch."""
    ns: dict = {"torch": torch, "nn": nn, "F": F}
    exec(CELL.split("for i in range")[0], ns)
    model, opt, x, y = ns["model"], ns["opt"], ns["x"], ns["y"]
    out = []
    for _ in range(steps):
        opt.zero_grad()
        s1 = torch.sigmoid(model.fc1(x))
        t2 = torch.tanh(model.fc2(s1))
        r3 = F.relu(model.fc3(t2) - 0.3)
        pred = model.out(r3)
        loss = F.mse_loss(pred, y)
        loss.backward()
        w, g = model.fc1.weight.detach(), model.fc1.weight.grad
        s1, t2, r3, pred = s1.detach(), t2.detach(), r3.detach(), pred.detach()
        sig_slope, tanh_slope = s1 * (1 - s1), 1 - t2 * t2
        out.append({
            "sigmoid": (float((sig_slope < SATURATION_SLOPE * 0.25).float().mean()),
                        float(sig_slope.mean())),
            "tanh": (float((tanh_slope < SATURATION_SLOPE).float().mean()), float(tanh_slope.mean())),
            "relative": {"sigmoid": sig_slope / 0.25, "tanh": tanh_slope},
            "relu": (float((r3 == 0).float().mean()), int(((r3 > 0).sum(0) == 0).sum())),
            "distance": float((y - pred).pow(2).mean().sqrt()), "pred": (float(pred.min()),
                                                                         float(pred.max())),
            "fc1": (float((w - w[0]).abs().max()), float(w.abs().max()),
                    float((g - g[0]).abs().max()), float(g.abs().max())),
        })
        opt.step()
    return out


def test_activation_loss_and_symmetry_records_equal_plain_torch():
    report = check(CELL, steps=STEPS)
    fwd = report.run.forward
    want = by_hand(STEPS)
    assert fwd.windows == [0, STEPS - 1]
    assert fwd.order == ["model", "fc1", "act1", "fc2", "fc3", "out"]
    acts = {(a.kind, a.step): a for a in fwd.activations}
    assert set(acts) == {(k, s) for k in ("sigmoid", "tanh", "relu") for s in (0, STEPS - 1)}
    for step in (0, STEPS - 1):
        sig, tanh, relu = acts["sigmoid", step], acts["tanh", step], acts["relu", step]
        for act in (sig, tanh):
            relative = want[step]["relative"][act.kind]
            # the raw distribution, equal to the by-hand one up to values that float32 puts on
            # the other side of an edge
            assert max(abs(a - b) for a, b in zip(act.slope_shares, slope_shares(relative))) \
                <= 2 / relative.numel()
            assert act.mean_slope == pytest.approx(want[step][act.kind][1], rel=1e-5)
            # today's reading of it lies between the by-hand shares at the edges around the
            # threshold
            low = max(e for e in SLOPE_EDGES if e <= SATURATION_SLOPE)
            high = min(e for e in SLOPE_EDGES if e > SATURATION_SLOPE)
            assert (share_below(relative, low) - 2 / relative.numel() <= act.saturated_fraction
                    <= share_below(relative, high) + 2 / relative.numel())
            assert low <= SATURATION_SLOPE < high and act.saturated_fraction == pytest.approx(
                want[step][act.kind][0], abs=share_below(relative, high) - share_below(relative, low)
                + 2 / relative.numel())
        assert (sig.layer, sig.source, sig.after) == ("act1", "module", "fc1")
        assert (tanh.layer, tanh.source, tanh.after) == ("model", "function", "fc2")
        assert (relu.layer, relu.after, relu.line) == ("model", "sub", line_of("F.relu"))
        assert tanh.line == line_of("torch.tanh")
        assert (sig.units, sig.samples_per_unit, sig.numel) == (16, 32, 512)
        assert relu.zero_fraction == pytest.approx(want[step]["relu"][0], abs=1e-6)
        assert relu.dead_units == want[step]["relu"][1]
        (loss,) = [c for c in fwd.losses if c.step == step]
        assert (loss.function, loss.input_is_model_output, loss.input_from) == ("mse_loss", True, "linear")
        assert loss.line == line_of("loss = F.mse_loss")
        assert loss.distance == pytest.approx(want[step]["distance"], rel=1e-5)
        assert loss.descent_alignment == pytest.approx(1.0, abs=1e-5)  # MSE points at the target
        assert (loss.input_min, loss.input_max) == pytest.approx(want[step]["pred"], rel=1e-5)
        (sym,) = [s for s in fwd.symmetry if s.param == "fc1.weight" and s.step == step]
        got = (sym.weight_row_spread, sym.weight_scale, sym.grad_row_spread, sym.grad_scale)
        assert got == pytest.approx(want[step]["fc1"], rel=1e-5)
    assert acts["sigmoid", 0].saturated_fraction > 0  # the *3 inputs saturate some: a real test


def test_model_input_and_target_summaries_equal_plain_torch():
    report = check(CELL, steps=2)
    torch.manual_seed(0)
    ns: dict = {"torch": torch, "nn": nn, "F": F}
    exec(CELL.split("for i in range")[0], ns)
    x, y = ns["x"], ns["y"]
    (first, last) = report.run.forward.inputs
    assert (first.layer, first.step, first.line) == ("model", 0, line_of("loss = F.mse_loss"))
    s = first.summary
    assert (s.mean, s.std, s.min, s.max) == pytest.approx(
        (x.mean().item(), x.std(correction=0).item(), x.min().item(), x.max().item()), rel=1e-5)
    assert s.shape == [32, 6] and s.nonfinite == 0 and last.step == 1
    t = report.run.forward.losses[0].target
    assert (t.mean, t.min, t.max) == pytest.approx((y.mean().item(), y.min().item(), y.max().item()),
                                                   rel=1e-5)


def test_module_calls_record_mode_batch_and_root():
    report = check(CELL, steps=2)
    calls = {(m.layer, m.step): m for m in report.run.forward.modules}
    assert calls["fc2", 0].training and calls["fc2", 0].batch_size == 32
    assert calls["fc2", 0].root_layer == "model" and calls["model", 1].root_layer == "model"
    assert calls["fc2", 0].output_nonfinite is False and calls["fc2", 0].output_requires_grad


def test_every_step_records_activation_modules_on_every_step():
    report = check(CELL, steps=STEPS, activations=True)
    fwd = report.run.forward
    assert fwd.every_step
    sig = {a.step: a for a in fwd.activations if a.kind == "sigmoid"}
    assert sorted(sig) == list(range(STEPS))
    want = by_hand(STEPS)
    assert sig[1].mean_slope == pytest.approx(want[1]["sigmoid"][1], rel=1e-5)
    assert max(abs(a - b) for a, b in zip(sig[1].slope_shares,
                                          slope_shares(want[1]["relative"]["sigmoid"]))) <= 2 / 512
    # functional activations are seen only in the windows, where the function mode is on
    assert sorted({a.step for a in fwd.activations if a.kind == "tanh"}) == [0, STEPS - 1]
    assert {m.step for m in fwd.modules if m.layer == "fc2"} == set(range(STEPS))


CLASS_CELL = """
torch.manual_seed(1)
model = nn.Linear(5, 3)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(16, 5); y = torch.randint(0, 3, (16,))
while True:
    opt.zero_grad()
    loss = LOSS
    loss.backward(); opt.step()
"""


def test_cross_entropy_record_and_its_direction_towards_the_labels():
    cell = CLASS_CELL.replace("LOSS", "F.cross_entropy(model(x), y)")
    report = nbgrad.gradcheck(cell, steps=1, namespace={"torch": torch, "nn": nn, "F": F})
    (ce,) = report.run.forward.losses
    assert (ce.function, ce.input_from, ce.classes, ce.ignore_index) == ("cross_entropy", "linear", 3, -100)
    torch.manual_seed(1)
    model = nn.Linear(5, 3)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    logits = model(x).detach().requires_grad_()
    F.cross_entropy(logits, y).backward()
    g = logits.grad
    towards = F.one_hot(y, 3).float() - 1 / 3  # raise the labelled class against the others
    per_sample = (-g * towards).sum(1) / towards.norm(dim=1)  # = cos_i * |g_i|
    want = (per_sample.sum() / g.norm(dim=1).sum()).item()
    assert ce.descent_alignment == pytest.approx(want, rel=1e-5) and want > 0
    assert (ce.target.min, ce.target.max) == (y.min().item(), y.max().item())
    assert (ce.input_min, ce.input_max) == pytest.approx((logits.min().item(), logits.max().item()))


def test_nll_record_sees_log_of_softmax_as_log_probabilities():
    cell = CLASS_CELL.replace("LOSS", "F.nll_loss(torch.log(model(x).softmax(dim=1)), y)")
    report = nbgrad.gradcheck(cell, steps=1, namespace={"torch": torch, "nn": nn, "F": F})
    (nll,) = report.run.forward.losses
    assert (nll.function, nll.input_from, nll.input_is_model_output) == ("nll_loss", "log", False)
    assert nll.input_max <= 0 and nll.descent_alignment > 0  # log-probabilities: towards labels
    assert report.diagnoses == [] or all(d.code != "NBG803" for d in report.diagnoses)


def test_a_probe_failure_is_reported_and_the_loop_still_runs(monkeypatch):
    def broken(*args):
        raise RuntimeError("probe bug")
    monkeypatch.setattr(forward_stats, "activation", broken)
    report = check(CELL, steps=3)
    assert len(report.run.steps) == 3
    assert "probe bug" in report.analysis_error and "probe bug" in report.run.forward.error
    assert torch._C._len_torch_function_stack() == 0


def test_error_in_the_first_forward_leaves_no_mode_or_hook():
    cell = CELL.replace("return self.out(h)", "return self.out(h[:, :3])")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        check(cell, steps=3)
    assert torch._C._len_torch_function_stack() == 0
    assert nbgrad.last_report().run.forward.windows == [0]


class UserMode(TorchFunctionMode):
    calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        UserMode.calls += 1
        return func(*args, **(kwargs or {}))


def test_users_own_mode_survives_an_error_inside_the_last_window():
    cell = CELL.replace("for i in range(100):", "with UserMode():\n  for i in range(100):")
    cell = cell.replace("\n    ", "\n      ")
    cell = cell.replace("      opt.step()", "      opt.step()\n      if i == 2: raise ValueError('late')")
    ns = {"UserMode": UserMode, "torch": torch, "nn": nn, "F": F}
    with pytest.raises(ValueError, match="late"):
        nbgrad.gradcheck(cell, steps=4, namespace=ns)
    assert torch._C._len_torch_function_stack() == 0
    assert nbgrad.last_report().run.forward.windows == [0, 3]
    assert UserMode.calls > 0


def test_timeout_without_a_step_closes_the_window():
    cell = "model = nn.Linear(3, 1)\nx = torch.randn(8, 3)\nwhile True:\n    model(x).sum().backward()\n"
    report = nbgrad.gradcheck(cell, steps=2, timeout=0.3, namespace={"torch": torch, "nn": nn})
    assert report.run.stopped_by == "timeout" and report.run.forward.windows == [0]
    assert torch._C._len_torch_function_stack() == 0


def test_warnings_keep_their_location_and_show_once(recwarn):
    import warnings
    warnings.simplefilter("default")
    cell = CELL.replace("y = torch.randn(32, 1)", "y = torch.randn(32)")
    check(cell, steps=3)
    sizes = [w for w in recwarn if "target size" in str(w.message)]
    assert sizes and all(w.filename.endswith("torch/nn/functional.py") or
                         w.filename.endswith("torch/nn/modules/loss.py") or "gradcheck-cell" in w.filename
                         for w in sizes)
    assert not [w for w in recwarn if "nbgrad" in w.filename]


def test_user_results_are_the_same_with_the_probe():
    report = check(CELL, steps=STEPS)
    ns: dict = {"torch": torch, "nn": nn, "F": F}
    exec(CELL.split("for i in range")[0], ns)
    model, opt, x, y = ns["model"], ns["opt"], ns["x"], ns["y"]
    for step in report.run.steps:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        assert step.losses[0] == loss.item()  # bit for bit


def test_a_saved_report_can_be_judged_again_at_another_slope():
    """Saturation is recorded as a distribution: a share below any edge is there, exactly."""
    from nbgrad.records import Run

    report = check(CELL, steps=2)
    again = Run.from_json(report.run.to_json())
    want = by_hand(1)[0]["relative"]
    for act in (a for a in again.forward.activations if a.step == 0 and a.kind != "relu"):
        for level in (SLOPE_EDGES[40], SLOPE_EDGES[44], SLOPE_EDGES[47]):  # 0.1, 0.32, 0.75
            assert act.saturated_share(level) == pytest.approx(
                share_below(want[act.kind], level), abs=2 / act.numel)
    (relu,) = [a for a in again.forward.activations if a.step == 0 and a.kind == "relu"]
    assert relu.slope_shares is None and relu.saturated_share(0.5) is None


def test_forward_records_round_trip_through_json_and_rules_agree():
    from nbgrad.diagnose import diagnose
    from nbgrad.records import Run

    report = check(CELL.replace("* 3", "* 30"), steps=3)  # saturated: some diagnoses to compare
    again = Run.from_json(report.run.to_json())
    assert again == report.run
    assert diagnose(again) == report.diagnoses and report.diagnoses


def test_rules_say_nothing_about_an_empty_run():
    from nbgrad.diagnose import diagnose
    from nbgrad.records import Run

    run = Run(source="", first_line=1, steps_requested=3, timeout_s=1.0, stopped_by="finished",
              elapsed_s=0.0)
    assert diagnose(run) == []


def test_magic_activations_flag(shell):
    shell.user_ns.update({"F": F})
    result = shell.run_cell("%%gradcheck --steps 3 --activations\n" + CELL)
    assert result.error_in_exec is None
    fwd = result.result.run.forward
    assert fwd.every_step and sorted({a.step for a in fwd.activations if a.kind == "sigmoid"}) == [0, 1, 2]


def test_a_compiled_model_trains_under_the_probe():
    """torch.compile traces global hooks and function modes: the probe must stay out of its way."""
    cell = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
fast = torch.compile(model, backend="eager")
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(32, 8); y = torch.randn(32, 1)
for i in range(100):
    opt.zero_grad()
    loss = F.mse_loss(fast(x), y)
    loss.backward()
    opt.step()
"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note that global hooks fire twice when compiled
        report = check(cell, steps=3)
    assert report.analysis_error is None and len(report.run.steps) == 3
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    assert report.run.steps[0].losses[0] == pytest.approx(F.mse_loss(model(x), y).item(), rel=1e-6)
