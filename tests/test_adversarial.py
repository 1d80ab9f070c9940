"""Random small models, optimizers and (broken) loops under the check: nbgrad never raises its own
exception, never leaves a hook, a trace function or a thread, always restores, always ends.

Several hundred examples (EXAMPLES); each also runs under a 30 s hang alarm that dumps every
thread's stack, so a run that does not end fails the suite instead of stalling it.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
from dataclasses import dataclass

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

import nbgrad
from nbgrad.capture import StopRun
from nbgrad.capture.session import active_session
from nbgrad.errors import NbgradError
from nbgrad.report import Report
from tests.conftest import _torch_globals
from tests.state_tools import pictures, same

EXAMPLES = 300

ACTIVATIONS = [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Softplus]
BLOCKS = ["linear", "shared", "tied", "act", "batchnorm", "layernorm", "dropout", "frozen",
          "buffer", "identity", "lazy"]
OPTIMIZERS = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True,
                                                      "weight_decay": 1e-2}),
    ("Adam", {}), ("Adam", {"weight_decay": 1e-2, "amsgrad": True}), ("AdamW", {}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {}), ("Adagrad", {"weight_decay": 1e-3}),
]

LOSS = "loss = (model(x) + w).pow(2).mean()"
SCHED = "\n    if sched is not None: sched.step()"
LOOPS = {
    "correct": f"for i in range(10**6):\n    opt.zero_grad()\n    {LOSS}\n    loss.backward()\n"
               f"    opt.step(){SCHED}",
    "no zero_grad": f"while True:\n    {LOSS}\n    loss.backward()\n    opt.step()",
    "no backward": f"for i in range(10**6):\n    opt.zero_grad()\n    {LOSS}\n    opt.step()",
    "zero_grad after step": f"for i in range(10**6):\n    {LOSS}\n    loss.backward()\n"
                            "    opt.step()\n    opt.zero_grad()",
    "raises at K": f"for i in range(10**6):\n    opt.zero_grad()\n    {LOSS}\n    loss.backward()\n"
                   "    if i == K: raise ValueError('cell error')\n    opt.step()",
    "interrupt at K": f"for i in range(10**6):\n    opt.zero_grad()\n    {LOSS}\n"
                      "    loss.backward()\n    opt.step()\n    if i == K: raise KeyboardInterrupt",
    "finishes after K": f"for i in range(K):\n    opt.zero_grad()\n    {LOSS}\n    loss.backward()\n"
                        "    opt.step()",
    "bare except": f"i = 0\nwhile True:\n    try:\n        opt.zero_grad()\n        {LOSS}\n"
                   "        loss.backward()\n        opt.step()\n        i += 1\n    except:\n"
                   "        pass",
    "nested keep-all": f"errors = []\nwhile True:\n    try:\n        for i in range(K + 1):\n"
                       f"            try:\n                opt.zero_grad()\n                {LOSS}\n"
                       "                loss.backward()\n                opt.step()\n"
                       "            except BaseException as e:\n                errors.append(e)\n"
                       "    except BaseException as e:\n        errors.append(e)",
    "shape bug": "for i in range(10**6):\n    opt.zero_grad()\n    loss = (model(x[:, :1]) + w)"
                 ".pow(2).mean()\n    loss.backward()\n    opt.step()",
    "mutates everything": "model.train()\nfor g in opt.param_groups: g['lr'] = g['lr'] * 10\n"
                          "model.add_module('extra', nn.Identity())\ntorch.manual_seed(123)\n"
                          "with torch.no_grad(): w.mul_(2)\n" + f"while True:\n    opt.zero_grad()\n"
                          f"    {LOSS}\n    loss.backward()\n    opt.step(){SCHED}",
    "generator data": "def batches():\n    while True:\n        yield x + torch.randn_like(x)\n"
                      f"for xb in batches():\n    opt.zero_grad()\n    {LOSS.replace('(x)', '(xb)')}\n"
                      "    loss.backward()\n    opt.step()",
    "never steps": f"while True:\n    {LOSS}\n    loss.backward()",
}


class Counted(nn.Module):
    """An odd module: a parameter, and a buffer that the forward pass changes."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.scale


@dataclass
class Setup:
    width: int
    blocks: list[str]
    activation: int
    head: bool
    optimizer: int
    lr: float
    scheduler: bool
    earlier_steps: int
    eval_mode: bool
    loop: str
    k: int
    steps: int
    keep: bool
    entry: str
    seed: int


setups = st.builds(
    Setup, width=st.integers(1, 5), blocks=st.lists(st.sampled_from(BLOCKS), max_size=5),
    activation=st.integers(0, len(ACTIVATIONS) - 1), head=st.booleans(),
    optimizer=st.integers(0, len(OPTIMIZERS) - 1), lr=st.sampled_from([1e-3, 0.1, 1e4]),
    scheduler=st.booleans(), earlier_steps=st.integers(0, 2), eval_mode=st.booleans(),
    loop=st.sampled_from(list(LOOPS)), k=st.integers(0, 5), steps=st.integers(1, 4),
    keep=st.sampled_from([False, False, False, True]), entry=st.sampled_from(["api", "api", "magic"]),
    seed=st.integers(0, 2 ** 16))


def earlier_cell(s: Setup) -> dict:
    """The namespace as an earlier cell left it: a model, an optimizer with state, a scheduler."""
    torch.manual_seed(s.seed)
    shared = nn.Linear(s.width, s.width)
    layers: list[nn.Module] = []
    for block in s.blocks:
        if block == "linear":
            layers.append(nn.Linear(s.width, s.width))
        elif block == "shared":
            layers.append(shared)  # the same module twice: its parameters are shared
        elif block == "tied":
            tied = nn.Linear(s.width, s.width)
            tied.weight = shared.weight  # one parameter in two modules
            layers.append(tied)
        elif block == "act":
            layers.append(ACTIVATIONS[s.activation]())
        elif block == "batchnorm":
            layers.append(nn.BatchNorm1d(s.width))
        elif block == "layernorm":
            layers.append(nn.LayerNorm(s.width))
        elif block == "dropout":
            layers.append(nn.Dropout(0.3))
        elif block == "frozen":
            layers.append(nn.Linear(s.width, s.width).requires_grad_(False))
        elif block == "buffer":
            layers.append(Counted(s.width))
        elif block == "lazy":
            layers.append(nn.LazyLinear(s.width))  # no data until its first forward pass
        else:
            layers.append(nn.Identity())
    if s.head:
        layers.append(nn.Linear(s.width, 1))
    model = nn.Sequential(*layers)  # may have no parameters at all
    w = torch.zeros(1, requires_grad=True)  # a hand-made parameter, so every loss has a gradient
    name, options = OPTIMIZERS[s.optimizer]
    x, y = torch.randn(8, s.width), torch.randn(8, 1)
    if name == "Adagrad":  # Adagrad reads every parameter when built: no lazy ones
        model(x)
    opt = getattr(torch.optim, name)([*model.parameters(), w], lr=s.lr, **options)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5) if s.scheduler else None
    for _ in range(s.earlier_steps):
        opt.zero_grad()
        ((model(x) + w).pow(2).mean()).backward()
        opt.step()
        if sched is not None:
            sched.step()
    if s.eval_mode:
        model.eval()
    return {"torch": torch, "nn": nn, "model": model, "opt": opt, "sched": sched, "w": w,
            "x": x, "y": y, "K": s.k}


def run(s: Setup, ns: dict) -> tuple[Report | None, BaseException | None]:
    cell = LOOPS[s.loop]
    timeout = 0.1 if s.loop == "never steps" else 30.0
    if s.entry == "api":
        try:
            return nbgrad.gradcheck(cell, steps=s.steps, namespace=ns, timeout=timeout,
                                    keep=s.keep), None
        except BaseException as error:
            return None, error
    ip = shell()
    ip.user_ns.update(ns)
    keep = " --keep" if s.keep else ""
    mode = ip.InteractiveTB.mode
    ip.InteractiveTB.set_mode("Minimal")  # IPython's verbose tracebacks take ~0.3 s each
    try:
        result = ip.run_cell(f"%%gradcheck --steps {s.steps} --timeout {timeout}{keep}\n{cell}",
                             store_history=False)
    finally:
        ip.InteractiveTB.set_mode(mode)
    for name in ns:
        ns[name] = ip.user_ns.pop(name, None)
    return result.result, result.error_in_exec


def shell():
    """The one InteractiveShell, with nbgrad loaded (made before anything is compared: IPython
    starts its own history thread when the shell is made)."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "gradcheck" not in ip.magics_manager.magics["cell"]:
        ip.run_line_magic("load_ext", "nbgrad")
    return ip


def observable() -> dict:
    return {"torch": _torch_globals(), "session": active_session(), "trace": sys.gettrace(),
            "profile": sys.getprofile(), "threads": {t.ident for t in threading.enumerate()}}


@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(setups)
# found by this test in CI: a one-unit tanh net at lr=1e4 saturates so fully that the first layer
# gets no gradient at all at the last step (the depth rule divided by that zero)
@example(Setup(width=1, blocks=["linear", "linear", "act"], activation=1, head=True, optimizer=0,
               lr=1e4, scheduler=False, earlier_steps=0, eval_mode=False, loop="correct", k=0,
               steps=2, keep=False, entry="api", seed=0))
def test_random_models_and_loops_under_the_check(s: Setup):
    shell()
    ns = earlier_cell(s)
    names = ["model", "opt", "w"] + (["sched"] if s.scheduler else [])
    lazy = any(isinstance(p, nn.parameter.UninitializedParameter) for p in ns["model"].parameters())
    before, outside = (None if lazy else pictures(ns, names)), observable()
    faulthandler.dump_traceback_later(30, exit=True)
    try:
        report, error = run(s, ns)
    finally:
        faulthandler.cancel_dump_traceback_later()

    assert observable() == outside  # no hook, patch, session, trace function or thread left
    if error is not None:  # only the cell's own exception reaches the user
        assert not isinstance(error, (StopRun, NbgradError, AssertionError)), repr(error)
        assert s.loop in ("raises at K", "interrupt at K", "shape bug"), repr(error)
        report = nbgrad.last_report()
    assert report is not None and report.analysis_error is None, report and report.analysis_error
    assert report.run.restore is not None
    text, page, saved = report.to_text(), report.to_html(), report.to_json()
    assert text and page and Report.from_json(saved).to_json() == saved
    if s.keep:
        assert report.run.restore.mode == "kept"
    elif lazy:  # a lazy module has no values to copy yet: not restored, and the report says so
        # only what the cell names is copied before it runs; an optimizer it never names nor
        # steps is left alone (listed as not copied), so it cannot fail to be copied
        expected = [f"{name}: ValueError: it has lazy parameters that are not initialized yet"
                    for name in ("model", "opt") if name in LOOPS[s.loop]]
        assert report.run.restore.failed[:len(expected)] == expected
    else:
        assert report.run.restore.mode == "restored" and report.run.restore.failed == []
        assert same(before, pictures(ns, names)) == []
    if s.loop == "never steps":
        assert report.run.stopped_by == "timeout" and report.run.steps == []
    elif s.loop not in ("raises at K", "interrupt at K", "finishes after K", "shape bug"):
        assert len(report.run.steps) == s.steps and report.run.stopped_by == "steps"
