"""Property: wherever the stop lands in a cell, it unwinds as an exception does and leaves nothing.

Hypothesis writes cells out of nested `with` blocks (a user's context manager, one that suppresses
everything, autocast, no_grad + enable_grad, anomaly mode), `try/finally`, `try/except` that
swallows or keeps the stop, loops (`for`, `while True`, over a generator from an earlier cell),
functions defined in the cell and in an earlier cell (one of which loops swallowing the stop),
threads the cell starts, blocking sleeps, and the cell's own errors and Ctrl-C, with a training
thread from an earlier cell running beside some of them. Each cell runs through the magic, the API
or a `with nbgrad.capture()` block inside a function, stopped by its steps or by the timeout.

After each: every `__enter__` has its `__exit__` and every `try` its `finally`, generators are
closed; grad mode, autocast and anomaly mode are as before; no hook, patch, trace function,
function mode, signal handler or thread of nbgrad's is left; the model and optimizer are restored
bit for bit; the background thread trained on, unstopped and without nbgrad's mode; the next plain
step works. EXAMPLES cells, about 40 s on one core.
"""

from __future__ import annotations

import faulthandler
import gc
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import nbgrad
from nbgrad.capture import session as session_module
from nbgrad.capture.session import active_session
from nbgrad.capture.stop import StopRun
from tests.conftest import _torch_globals
from tests.state_tools import pictures, same

EXAMPLES = 60
STEP = "opt.zero_grad(); model(x).pow(2).mean().backward(); count.append(1); opt.step()"
LEAVES = {
    "step": [STEP],
    "forward": ["model(x)"],
    "step in an earlier cell's function": ["train_step()"],
    "an earlier cell's loop that swallows the stop": ["swallow_loop()"],
    "the cell's error": ["if len(count) >= K: raise ValueError('the cell fails')"],
    "Ctrl-C": ["if len(count) >= K: raise KeyboardInterrupt"],
    "blocking sleep": ["time.sleep(10)"],
}
TORCH_WITHS = ['torch.autocast("cpu", dtype=torch.bfloat16)', "torch.no_grad(), torch.enable_grad()",
               "torch.autograd.set_detect_anomaly(True)"]
EARLIER_CELL = f"""
class Logged:
    def __init__(self, name, suppress=False):
        self.name, self.suppress = name, suppress
    def __enter__(self):
        log.append("enter " + self.name)
    def __exit__(self, kind, error, tb):
        log.append("exit " + self.name)
        return self.suppress

def cm(name, suppress=False):
    return Logged(name, suppress)

def train_step():
    with cm("train_step"):
        try:
            log.append("try train_step")
            {STEP}
        finally:
            log.append("finally train_step")

def swallow_loop():
    with cm("swallow_loop"):
        while True:
            try:
                {STEP}
            except BaseException:
                pass

def batches():
    log.append("enter batches")
    try:
        while True:
            yield x
    finally:
        log.append("exit batches")
"""


@st.composite
def statements(draw: Any, depth: int = 0, thread: bool = False) -> list[str]:
    """One or two statements; `thread`: what a thread may run (it must end by itself)."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 2))):
        out += draw(statement(depth, thread))
    return out


@st.composite
def statement(draw: Any, depth: int, thread: bool) -> list[str]:
    leaves = ["step", "forward", "step in an earlier cell's function", "the cell's error"] if thread \
        else list(LEAVES)
    kinds = ["leaf"] if depth >= 3 else ["leaf", "with", "suppressing with", "torch with",
                                         "try/finally", "swallow", "keep", "except Exception",
                                         "for", "while", "generator", "function"]
    if not thread and depth < 3:
        kinds.append("thread")
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        return list(LEAVES[draw(st.sampled_from(leaves))])
    if thread and kind in ("while", "swallow", "keep", "suppressing with", "generator"):
        kind = "for"  # a thread's loops end by themselves: nbgrad only guards the cell's thread
    name = f"b{draw(st.integers(0, 10**6))}"
    body = [f"    {line}" for line in draw(statements(depth + 1, thread or kind == "thread"))]
    if kind == "with":
        return [f'with cm("{name}"):', *body]
    if kind == "suppressing with":
        return [f'with cm("{name}", suppress=True):', *body]
    if kind == "torch with":
        return [f"with {draw(st.sampled_from(TORCH_WITHS))}:", *body]
    if kind == "try/finally":
        return ["try:", f'    log.append("try {name}")', *body, "finally:",
                f'    log.append("finally {name}")']
    if kind == "swallow":
        return ["try:", *body, "except:", "    pass"]
    if kind == "keep":
        return ["try:", *body, f"except BaseException as e_{name}:", f"    errors.append(e_{name})"]
    if kind == "except Exception":
        return ["try:", *body, "except Exception:", "    pass"]
    if kind == "for":
        rounds = draw(st.sampled_from([2, 3] if thread else [2, 10**6]))
        return [f"for i_{name} in range({rounds}):", *body]
    if kind == "while":
        return ["while True:", *body]
    if kind == "generator":
        return [f"for batch_{name} in batches():", *body]
    if kind == "function":
        return [f"def f_{name}():", *body, f"f_{name}()"]
    return [f"def t_{name}():", "    try:", *[f"    {line}" for line in body], "    finally:",
            "        modes.append(torch._C._len_torch_function_stack())",
            f"worker_{name} = threading.Thread(target=t_{name})", f"worker_{name}.start()",
            f"worker_{name}.join()"]


@dataclass
class Case:
    lines: list[str]
    entry: str
    steps: int
    k: int
    background: bool
    seed: int

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


cases = st.builds(Case, lines=statements(), entry=st.sampled_from(["api", "magic", "capture"]),
                  steps=st.integers(1, 3), k=st.integers(0, 3), background=st.booleans(),
                  seed=st.integers(0, 2**16))
TIMEOUT = 0.3


class Background:
    """A training thread of an earlier cell; its model is out of the namespace's reach."""

    def __init__(self) -> None:
        model, x = nn.Linear(3, 1), torch.randn(4, 3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        self.steps, self.errors, self.modes = 0, [], 0
        self.halt = threading.Event()

        def train() -> None:
            while not self.halt.is_set():
                try:
                    opt.zero_grad()
                    model(x).pow(2).mean().backward()
                    opt.step()
                    self.steps += 1
                    self.modes = max(self.modes, torch._C._len_torch_function_stack())
                except BaseException as error:
                    self.errors.append(repr(error))
                self.halt.wait(0.001)

        self.thread = threading.Thread(target=train, name="earlier cell's training", daemon=True)
        self.thread.start()
        while self.steps == 0:
            time.sleep(0.001)

    def stop(self) -> None:
        self.halt.set()
        self.thread.join()


def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "gradcheck" not in ip.magics_manager.magics["cell"]:
        ip.run_line_magic("load_ext", "nbgrad")
    return ip


def earlier_cells(case: Case) -> dict[str, Any]:
    torch.manual_seed(case.seed)
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "nbgrad": nbgrad, "time": time,
                          "threading": threading, "model": model, "opt": opt,
                          "x": torch.randn(8, 4), "K": case.k, "count": [], "log": [],
                          "errors": [], "modes": []}
    opt.zero_grad()
    model(ns["x"]).pow(2).mean().backward()
    opt.step()  # the optimizer has state to restore
    return ns


def run(case: Case, ns: dict[str, Any]) -> BaseException | None:
    """Run the case's cell through its entry; returns the exception that reached the user."""
    if case.entry == "magic":
        ip = shell()
        ip.user_ns.update(ns)
        ip.run_cell(EARLIER_CELL, store_history=False)
        mode = ip.InteractiveTB.mode
        ip.InteractiveTB.set_mode("Minimal")
        try:
            result = ip.run_cell(f"%%gradcheck --steps {case.steps} --timeout {TIMEOUT}\n"
                                 + case.source, store_history=False)
        finally:
            ip.InteractiveTB.set_mode(mode)
        ns.update({k: ip.user_ns[k] for k in ("log", "count", "modes", "model", "opt")})
        for name in [*ns, "Logged", "cm", "train_step", "swallow_loop", "batches"]:
            ip.user_ns.pop(name, None)
        return result.error_in_exec
    exec(compile(EARLIER_CELL, "<earlier cell>", "exec"), ns)
    try:
        if case.entry == "api":
            nbgrad.gradcheck(case.source, steps=case.steps, timeout=TIMEOUT, namespace=ns)
        else:
            block = "\n".join(f"        {line}" for line in case.lines)
            exec(compile(f"def block():\n    with nbgrad.capture(steps={case.steps}, "
                         f"timeout={TIMEOUT}) as check:\n{block}\n    return check\n",
                         "<capture block>", "exec"), ns)
            ns["block"]()
    except BaseException as error:
        return error
    return None


def torch_modes() -> dict[str, Any]:
    return {"grad": torch.is_grad_enabled(), "autocast": torch.is_autocast_enabled("cpu"),
            "anomaly": torch.is_anomaly_enabled(), "function modes": torch._C._len_torch_function_stack()}


def observable() -> dict[str, Any]:
    return {"torch": _torch_globals(), "session": active_session(), "trace": sys.gettrace(),
            "profile": sys.getprofile(), "sigint": signal.getsignal(signal.SIGINT),
            "pending": signal.sigpending(), "modes": torch_modes(),
            "threads": sorted(t.name for t in threading.enumerate() if t.name.startswith("nbgrad"))}


def balanced(log: list[str]) -> list[str]:
    """Names entered and not exited, tried without their finally."""
    out = []
    for opening, closing in (("enter ", "exit "), ("try ", "finally ")):
        names = {e[len(opening):] for e in log if e.startswith(opening)}
        out += [n for n in names if log.count(opening + n) != log.count(closing + n)]
    return out


@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(cases)
def test_the_stop_unwinds_wherever_it_lands(monkeypatch, case: Case):
    monkeypatch.setattr(session_module, "TIMEOUT_GRACE_S", 0.2)
    shell()  # IPython's own history thread starts with the shell: before anything is compared
    ns = earlier_cells(case)
    background = Background() if case.background else None
    before, outside = pictures(ns, ["model", "opt"]), observable()
    thread_errors: list[str] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(args.exc_type.__name__)
    previous = nbgrad.last_report()
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        error = run(case, ns)
    finally:
        faulthandler.cancel_dump_traceback_later()
        threading.excepthook = hook
    try:
        if background is not None:
            trained = background.steps
            time.sleep(0.02)
            assert background.thread.is_alive() and background.steps > trained
            assert background.errors == [] and background.modes == 0
    finally:
        if background is not None:
            background.stop()
    gc.collect(1)  # generators left suspended in a reference cycle are closed (young objects)

    assert observable() == outside
    assert not isinstance(error, StopRun), repr(error)
    if error is not None:  # only the cell's own error or Ctrl-C reaches the user
        assert isinstance(error, (ValueError, KeyboardInterrupt)), repr(error)
    assert set(thread_errors) <= {"StopRun", "ValueError"}, thread_errors
    assert balanced(ns["log"]) == [], ns["log"]
    assert ns["modes"] == [0] * len(ns["modes"])  # no thread kept nbgrad's function mode
    report = nbgrad.last_report()
    assert report is not previous and report.analysis_error is None
    assert report.run.restore.failed == []
    if background is not None:
        assert [o.name for o in report.run.optimizers] in ([], ["opt"])
    assert same(before, pictures(ns, ["model", "opt"])) == []
    weight = ns["model"][0].weight.detach().clone()
    ns["opt"].zero_grad()
    ns["model"](ns["x"]).pow(2).mean().backward()
    ns["opt"].step()  # the next plain step works
    assert not torch.equal(weight, ns["model"][0].weight)
