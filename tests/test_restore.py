"""A check leaves the notebook as it was: state restored bit for bit, in place, on every way out."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import nbgrad
from tests.state_tools import picture, pictures, rng_states, same

EARLIER = """
torch.manual_seed(1)
model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
x = torch.randn(32, 4); y = torch.randn(32, 1)
for _ in range(5):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step(); sched.step()
model.eval()
model[1].train()
"""

LOOP = """
model.train()
for i in range(10**6):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x + torch.randn_like(x)), y)
    loss.backward()
    opt.step(); sched.step()
"""

NAMES = ["model", "opt", "sched"]

# name -> (cell, steps, options, exception the user sees, how the run stopped)
SCENARIOS = {
    "early stop": (LOOP, 3, {}, None, "steps"),
    "cell finishes": (LOOP.replace("10**6", "2"), 10, {}, None, "finished"),
    "raises half-way": (LOOP + "    if i == 2: raise RuntimeError('half-way')\n", 10, {},
                        RuntimeError, "error"),
    "KeyboardInterrupt": (LOOP + "    if i == 1: raise KeyboardInterrupt\n", 10, {},
                          KeyboardInterrupt, "interrupt"),
    "NaN": ("for g in opt.param_groups: g['lr'] = 1e30\n" + LOOP, 4, {}, None, "steps"),
    "timeout": ("while True:\n    nn.functional.mse_loss(model(x), y).backward()\n", 3,
                {"timeout": 0.3}, None, "timeout"),
}


def earlier_cell() -> dict:
    ns: dict = {}
    exec("import torch\nfrom torch import nn", ns)
    exec(EARLIER, ns)
    return ns


def one_step(model: nn.Module, opt: torch.optim.Optimizer, sched, x, y) -> torch.Tensor:
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x + torch.randn_like(x)), y)
    loss.backward()
    opt.step()
    sched.step()
    return loss.detach()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_state_is_restored_bit_for_bit_and_training_goes_on_identically(check, scenario):
    cell, steps, options, raises, stopped_by = SCENARIOS[scenario]
    ns = earlier_cell()
    model, opt, sched = ns["model"], ns["opt"], ns["sched"]
    twin = copy.deepcopy((model, opt, sched))
    before = pictures(ns, NAMES)
    weight, grad = model[0].weight, model[0].weight.grad  # references the user holds
    exp_avg = opt.state[weight]["exp_avg"]
    assert grad is not None and model.training is False

    if raises is None:
        report = check(cell, namespace=ns, steps=steps, **options)
    else:
        with pytest.raises(raises):
            check(cell, namespace=ns, steps=steps, **options)
        report = nbgrad.last_report()
    run = report.run
    assert run.stopped_by == stopped_by
    if scenario == "NaN":  # the check really saw the model blow up
        assert not all(torch.isfinite(torch.tensor(s.params["0.weight"].param_norm))
                       for s in run.steps)
    if scenario != "timeout":
        assert run.steps, "the check must have trained before the restore"

    assert same(before, pictures(ns, NAMES)) == []
    assert model[0].weight is weight and model[0].weight.grad is grad
    assert opt.state[weight]["exp_avg"] is exp_avg
    assert opt.param_groups[0]["params"][0] is weight
    untouched = ["opt"] if scenario == "timeout" else []  # that cell never names nor steps opt
    assert run.restore.mode == "restored" and run.restore.not_copied == untouched
    assert run.restore.objects == [n for n in ["model", "opt", "sched"] if n not in untouched]
    assert run.restore.failed == [] and set(run.restore.rng) >= {"torch", "numpy", "random"}

    rng = rng_states()["torch"]
    loss = one_step(model, opt, sched, ns["x"], ns["y"])
    torch.set_rng_state(rng)
    twin_loss = one_step(*twin, ns["x"], ns["y"])
    assert same(loss, twin_loss) == []
    assert same([picture(o) for o in (model, opt, sched)], [picture(o) for o in twin]) == []


def test_keep_leaves_the_steps_changes(check):
    ns = earlier_cell()
    before = pictures(ns, NAMES)
    steps_before = ns["opt"].state[ns["model"][0].weight]["step"].item()
    report = check(LOOP, namespace=ns, steps=3, keep=True)
    assert report.run.restore.mode == "kept"
    assert "--keep" in report.run.restore.reason
    assert ns["opt"].state[ns["model"][0].weight]["step"].item() == steps_before + 3
    assert ns["sched"].last_epoch == before["sched"]["last_epoch"] + 2  # stopped before the 3rd
    assert "model.p.0.weight" in " ".join(same(before["model"], picture(ns["model"]), "model"))
    assert ns["model"].training is True
    assert "state kept: asked to keep them" in report.to_text()


def test_names_the_cell_rebinds_keep_their_new_values(check):
    ns = earlier_cell()
    old_model, before = ns["model"], picture(ns["model"])
    cell = """
model = nn.Linear(4, 1)
w0 = model.weight.detach().clone()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(100):
    opt.zero_grad(); nn.functional.mse_loss(model(x), y).backward(); opt.step()
"""
    report = check(cell, namespace=ns, steps=2)
    assert isinstance(ns["model"], nn.Linear) and ns["model"] is not old_model
    assert not torch.equal(ns["model"].weight, ns["w0"])  # the new model keeps its two steps
    assert same(before, picture(old_model)) == []  # the old object, which existed, is restored
    assert "variables the cell assigns and objects it creates keep their new values" in \
        report.to_text()


def test_objects_held_one_level_deep_mode_grads_and_structure(check):
    ns: dict = {}
    exec("import torch\nfrom torch import nn\n"
         "class Trainer:\n"
         "    def __init__(self, model): self.model = model; self.opt = torch.optim.SGD("
         "model.parameters(), lr=0.1, momentum=0.9)\n", ns)
    torch.manual_seed(0)
    shared = nn.Linear(3, 3)
    models = {"a": nn.Sequential(shared, nn.Tanh(), nn.Linear(3, 1)),
              "b": nn.Sequential(shared, nn.Linear(3, 1))}
    trainer = ns["Trainer"](models["a"])
    ns.update(models=models, trainer=trainer, x=torch.randn(8, 3))
    models["b"].eval()
    tail = models["a"][2]
    before = {k: picture(m) for k, m in models.items()}
    opt_before = picture(trainer.opt)
    cell = """
models['b'].train()
models['a'][2] = nn.Linear(3, 1)          # the cell replaces a submodule
models['a'][0].weight.requires_grad_(False)
while True:
    trainer.opt.zero_grad()
    (trainer.model(x).sum() + models['b'](x).sum()).backward()
    trainer.opt.step()
"""
    report = check(cell, namespace=ns, steps=3)
    assert report.run.restore.objects == ["models['a']", "models['b']", "trainer.opt"]
    assert {k: same(before[k], picture(m)) for k, m in models.items()} == {"a": [], "b": []}
    assert same(opt_before, picture(trainer.opt)) == []
    assert models["a"][2] is tail and models["b"].training is False
    assert models["a"][0].weight.requires_grad is True
    assert models["a"][0].weight.grad is None  # there was none before


def test_gradscaler_and_hand_made_parameters_are_restored(check):
    ns: dict = {}
    exec("import torch\nfrom torch import nn", ns)
    torch.manual_seed(0)
    w = torch.randn(5, 1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4, growth_interval=1)
    x = torch.randn(16, 5)
    for _ in range(2):  # an earlier cell: the scale grew twice
        opt.zero_grad()
        scaler.scale((x @ w).pow(2).mean()).backward()
        scaler.step(opt)
        scaler.update()
    ns.update(w=w, opt=opt, scaler=scaler, x=x)
    before = {n: picture(ns[n]) for n in ("w", "opt", "scaler")}
    assert scaler.get_scale() == 2.0 ** 6
    cell = """
for _ in range(100):
    opt.zero_grad()
    scaler.scale((x @ w).pow(2).mean()).backward()
    scaler.step(opt); scaler.update()
"""
    report = check(cell, namespace=ns, steps=3)
    assert len(report.run.steps) == 3
    assert {n: same(before[n], picture(ns[n])) for n in before} == {"w": [], "opt": [], "scaler": []}
    assert scaler.get_scale() == 2.0 ** 6
    assert sorted(report.run.restore.objects) == ["opt", "scaler", "w"]


def test_snapshot_size_counts_every_tensor_once():
    torch.manual_seed(0)
    emb = nn.Embedding(100, 16)
    model = nn.Sequential(emb, nn.Linear(16, 100))
    model[1].weight = emb.weight  # tied: one tensor, two names
    opt = torch.optim.Adam(model.parameters())
    model(torch.arange(4)).sum().backward()
    opt.step()
    ns = {"model": model, "opt": opt, "alias": model}
    report = nbgrad.gradcheck("for _ in range(3):\n    opt.zero_grad(); "
                              "model(torch.arange(4)).sum().backward(); opt.step()",
                              namespace=ns | {"torch": torch}, steps=2)
    params = list(model.parameters())  # unique: the tied weight once
    state = [t for s in opt.state.values() for t in s.values()]
    expected = sum(t.numel() * t.element_size() for t in params + state)
    expected += sum(p.grad.numel() * p.grad.element_size() for p in params)
    assert report.run.restore.bytes == expected
    assert report.run.restore.objects == ["model", "opt"]


BASE = ("torch.manual_seed(0)\nmodel = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))\n"
        "x = torch.randn(8, 3)\nsched = None\n")
STEP_LOOP = ("while True:\n    opt.zero_grad(); loss = model(x).pow(2).mean(); loss.backward()\n"
             "    opt.step()\n    if sched is not None: sched.step()\n")
EDGE_CASES = {
    # SequentialLR's _last_lr is the list of a sub-scheduler: restored, they are shared again
    "SequentialLR of LinearLR and OneCycleLR": (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
        "a = torch.optim.lr_scheduler.LinearLR(opt, 0.1, total_iters=2)\n"
        "b = torch.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=50)\n"
        "sched = torch.optim.lr_scheduler.SequentialLR(opt, [a, b], milestones=[2])\n", STEP_LOOP),
    "LBFGS with its history": (
        "opt = torch.optim.LBFGS(model.parameters(), max_iter=3)\n"
        "def closure():\n    opt.zero_grad(); l = model(x).pow(2).mean(); l.backward(); return l\n"
        "opt.step(closure)\n", "while True:\n    opt.step(closure)\n"),
    "ReduceLROnPlateau": (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)\n",
        "while True:\n    opt.zero_grad(); loss = model(x).pow(2).mean(); loss.backward()\n"
        "    opt.step(); sched.step(loss.item())\n"),
    "tensor lr and fused Adam": (
        "opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01), fused=True)\n",
        STEP_LOOP),
    "weight_norm applied in the cell": (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        "from torch.nn.utils.parametrizations import weight_norm\nweight_norm(model[0])\n"
        + STEP_LOOP),
    "load_state_dict in the cell": (
        "opt = torch.optim.Adam(model.parameters())\nmodel(x).sum().backward(); opt.step()\n",
        "model.load_state_dict({k: v * 0 for k, v in model.state_dict().items()})\n"
        "opt.load_state_dict(opt.state_dict())\n" + STEP_LOOP),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_optimizers_schedulers_and_structure_changes_are_restored(case):
    setup, cell = EDGE_CASES[case]
    ns: dict = {"torch": torch, "nn": nn}
    exec(BASE + setup, ns)
    names = [n for n in ("model", "opt", "sched", "a", "b") if ns.get(n) is not None]
    before = pictures(ns, names)
    kind = type(ns["model"][0])
    shared = "a" in ns and ns["sched"]._last_lr is ns["a"]._last_lr
    report = nbgrad.gradcheck(cell, namespace=ns, steps=3)
    assert len(report.run.steps) == 3 and report.run.restore.failed == []
    assert same(before, pictures(ns, names)) == []
    assert type(ns["model"][0]) is kind
    if "a" in ns:
        assert shared and ns["sched"]._last_lr is ns["a"]._last_lr


def test_a_lazy_module_is_said_not_restored():
    ns: dict = {"torch": torch, "nn": nn}
    exec("model = nn.Sequential(nn.LazyLinear(4), nn.Linear(4, 1)); x = torch.randn(8, 3)\n"
         "opt = torch.optim.SGD(model.parameters(), lr=0.1)", ns)
    report = nbgrad.gradcheck("while True:\n    opt.zero_grad(); model(x).sum().backward(); "
                              "opt.step()", namespace=ns, steps=2)
    assert len(report.run.steps) == 2 and report.analysis_error is None
    assert report.run.restore.failed == [
        "model: ValueError: it has lazy parameters that are not initialized yet",
        "opt: ValueError: it has lazy parameters that are not initialized yet"]
    assert "state: no object restored; random number generators restored (torch, numpy, random)" \
        in report.to_text()


def test_ctrl_c_during_the_restore_waits_until_it_is_complete(monkeypatch):
    import signal

    from nbgrad.capture import snapshot

    real = snapshot.Snapshot.restore

    def interrupted(self):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of putting things back
        return real(self)

    monkeypatch.setattr(snapshot.Snapshot, "restore", interrupted)
    ns = earlier_cell()
    before = pictures(ns, NAMES)
    with pytest.raises(KeyboardInterrupt):
        nbgrad.gradcheck(LOOP, namespace=ns, steps=2)
    assert same(before, pictures(ns, NAMES)) == []
    report = nbgrad.last_report()
    assert report.run.restore.mode == "restored" and len(report.run.steps) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_odd_objects_in_the_namespace_do_not_stop_the_snapshot():
    from nbgrad.capture import discover

    class Proxy:  # like a lazy proxy whose every attribute access fails, even __class__
        def __getattribute__(self, name):
            raise RuntimeError("unbound proxy")

    class Huge(dict):
        pass

    ns = earlier_cell()
    huge = Huge((i, torch.zeros(1)) for i in range(5000))
    huge[5000] = nn.Linear(1, 1)  # beyond the items looked at: not restored
    found = discover.find({"proxy": Proxy(), "huge": huge, "models": [ns["model"]], **ns})
    assert found.names() == ["model", "opt", "sched"]  # a top-level name wins over models[0]
    before = pictures(ns, NAMES)
    report = nbgrad.gradcheck(LOOP, namespace={"huge": huge, **ns}, steps=2)
    assert report.analysis_error is None and len(report.run.steps) == 2
    assert same(before, pictures(ns, NAMES)) == []


def test_ipython_output_history_is_not_taken_for_user_state(shell):
    shell.run_cell("torch.manual_seed(0)", store_history=True)  # Out[...] holds a torch.Generator
    result = shell.run_cell("%%gradcheck --steps 2\nm = nn.Linear(2, 1)\n"
                            "o = torch.optim.SGD(m.parameters(), lr=0.1)\nwhile True:\n"
                            "    o.zero_grad(); m(torch.randn(4, 2)).sum().backward(); o.step()")
    assert result.error_in_exec is None
    assert "Out[" not in result.result.to_text()
