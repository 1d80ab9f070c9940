"""Every run ends, and ends cleanly: swallowed stops, timeouts, Ctrl-C, workers, nesting, reloads."""

from __future__ import annotations

import _thread
import gc
import multiprocessing
import sys
import threading
import time

import pytest
import torch
from torch import nn

import nbgrad
from tests.state_tools import pictures, same

SETUP = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(8, 3)
n = 0
"""
STEP = "opt.zero_grad(); model(x).pow(2).mean().backward(); n += 1; opt.step()"

SWALLOWING = {
    "bare except": f"""
while True:
    try:
        {STEP}
    except:
        pass
""",
    "except BaseException, kept": f"""
errors = []
for epoch in range(10**6):
    try:
        {STEP}
    except BaseException as e:
        errors.append(e)
""",
    "except then continue": f"""
while True:
    try:
        {STEP}
    except:
        continue
""",
    "two nested catch-alls that keep every exception": f"""
errors = []
while True:
    try:
        for i in range(100):
            try:
                {STEP}
            except BaseException as e:
                errors.append(e)
    except BaseException as e:
        errors.append(e)
""",
    "the whole loop inside a catch-all": f"""
try:
    while True:
        try:
            {STEP}
        except:
            pass
except:
    pass
""",
    "a step function defined in the cell swallows": f"""
def train_step():
    global n
    try:
        {STEP}
    except:
        return None
while True:
    train_step()
""",
}


@pytest.mark.parametrize("shape", list(SWALLOWING))
def test_a_loop_that_swallows_the_stop_still_ends(check, shape):
    ns: dict = {}
    report = check(SETUP + SWALLOWING[shape], namespace=ns, steps=4, timeout=30)
    assert report.run.stopped_by == "steps" and len(report.run.steps) == 4
    assert ns["n"] == 4  # stopped at once: no step past the ones asked for
    assert sys.gettrace() is None


def test_cleanup_code_of_the_cell_still_runs(check):
    cell = SETUP + f"""
closed = []
def batches():
    try:
        while True:
            yield x
    finally:
        closed.append("generator")
try:
    for batch in batches():
        try:
            {STEP}
        except:
            pass
finally:
    closed.append("finally")
"""
    ns: dict = {}
    report = check(cell, namespace=ns, steps=3)
    assert len(report.run.steps) == 3
    gc.collect()
    assert sorted(ns["closed"]) == ["finally", "generator"]


def _no_workers_left() -> list:
    gc.collect()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    return multiprocessing.active_children()


def test_dataloader_workers_exit_when_the_loop_swallows_the_stop(check):
    cell = SETUP + """
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(torch.randn(400, 3)), batch_size=4, num_workers=2)
while True:
    for (xb,) in loader:
        try:
            opt.zero_grad(); model(xb).sum().backward(); opt.step()
        except BaseException:
            pass
"""
    threads = {t.ident for t in threading.enumerate()}
    report = check(cell, steps=3, timeout=30)
    assert len(report.run.steps) == 3
    assert _no_workers_left() == []
    assert {t.ident for t in threading.enumerate()} <= threads


def test_a_cell_that_never_steps_and_swallows_ends_at_the_timeout(check):
    cell = SETUP + """
while True:
    try:
        model(x).sum().backward()
    except:
        pass
"""
    threads = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    report = check(cell, steps=3, timeout=0.3)
    assert report.run.stopped_by == "timeout" and report.run.backward_calls > 0
    assert time.monotonic() - started < 10
    assert {t.ident for t in threading.enumerate()} == threads  # the watchdog is gone


def test_timeout_under_a_debugger_ends_and_the_debugger_stays(check):
    """Regression: clearing the timeout's asynchronous exception left CPython's eval breaker set,
    and under any trace function (a debugger, coverage) the next function call spun forever."""
    calls: list[str] = []

    def debugger(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "probe":
            calls.append("probe")
        return None

    def probe() -> None:
        return None

    cell = SETUP + "while True:\n    model(x).sum().backward()\n"
    previous = sys.gettrace()
    sys.settrace(debugger)
    try:
        report = check(cell, steps=3, timeout=0.3)
        assert sys.gettrace() is debugger
        probe()
    finally:
        sys.settrace(previous)
    assert report.run.stopped_by == "timeout" and calls == ["probe"]


def test_the_guard_gives_a_debugger_its_trace_function_back(check):
    events: list[str] = []

    def debugger(frame, event, arg):
        if frame.f_code.co_name == "after_check":
            events.append(event)
        return debugger

    def after_check() -> int:
        return 1

    previous = sys.gettrace()
    sys.settrace(debugger)
    try:
        report = check(SETUP + SWALLOWING["bare except"], steps=2)
        assert sys.gettrace() is debugger
        after_check()
    finally:
        sys.settrace(previous)
    assert len(report.run.steps) == 2 and "call" in events and "line" in events


def test_ctrl_c_stops_a_cell_that_never_steps(check):
    ns: dict = {}
    exec("import torch\nfrom torch import nn\n" + SETUP, ns)
    before = pictures(ns, ["model", "opt"])
    timer = threading.Timer(0.3, _thread.interrupt_main)  # what Ctrl-C does in a kernel
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            check("while True:\n    model(x).sum().backward()\n", namespace=ns, steps=3)
    finally:
        timer.join()
    report = nbgrad.last_report()
    assert report.run.stopped_by == "interrupt" and report.run.backward_calls > 0
    assert same(before, pictures(ns, ["model", "opt"])) == []
    assert sys.gettrace() is None


FINALIZER_LOOP = """
import time
class Buffer:
    def __del__(self):  # where the Ctrl-C lands: Python drops what a finalizer raises
        time.sleep(0.02)
while True:
    Buffer()
    model(x).sum().backward()
"""


def test_a_ctrl_c_that_lands_in_a_finalizer_still_stops_the_cell(check):
    """Almost all of this loop's time is spent in `__del__`, so the Ctrl-C lands there, where an
    exception is printed as "Exception ignored" and dropped. nbgrad raises it in the loop instead:
    without that the cell runs on to the timeout (60 s) and no KeyboardInterrupt comes."""
    ns: dict = {}
    exec("import torch\nfrom torch import nn\n" + SETUP, ns)
    before = pictures(ns, ["model", "opt"])
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            check(FINALIZER_LOOP, namespace=ns, steps=3, timeout=20)
    finally:
        timer.join()
    report = nbgrad.last_report()
    assert report.run.stopped_by == "interrupt"  # not "timeout": the Ctrl-C ended it
    assert same(before, pictures(ns, ["model", "opt"])) == []
    assert sys.gettrace() is None


NESTED = """
inner = nbgrad.gradcheck(
    "for j in range(100):\\n    opt2.zero_grad(); m2(x).sum().backward(); opt2.step()",
    steps=2, namespace=globals())
for i in range(100):
    opt.zero_grad(); model(x).sum().backward(); opt.step()
"""


def test_nested_checks_each_catch_their_own_stop(check):
    ns: dict = {"nbgrad": nbgrad}
    exec("import torch\nfrom torch import nn\n" + SETUP +
         "m2 = nn.Linear(3, 1)\nopt2 = torch.optim.Adam(m2.parameters())\n", ns)
    names = ["model", "opt", "m2", "opt2"]
    before = pictures(ns, names)
    outer = check(NESTED, namespace=ns, steps=5)
    inner = ns["inner"]
    assert inner is not outer and inner.run.stopped_by == "steps"
    assert [o.steps for o in inner.run.optimizers] == [2]
    assert outer.run.stopped_by == "steps"
    assert sorted(o.steps for o in outer.run.optimizers) == [2, 5]
    assert same(before, pictures(ns, names)) == []


def test_magic_twice_in_a_row_and_reload(shell):
    shell.run_cell(SETUP)
    cell = f"%%gradcheck --steps 2\nwhile True:\n    {STEP}\n"
    first = shell.run_cell(cell).result
    second = shell.run_cell(cell).result
    assert first is not second and shell.user_ns["n"] == 4  # a rebound name keeps its value
    assert [len(r.run.steps) for r in (first, second)] == [2, 2]
    assert same(first.run.steps[0].params, second.run.steps[0].params) == []  # restored between

    shell.run_line_magic("reload_ext", "nbgrad")
    third = shell.run_cell(cell).result
    assert len(third.run.steps) == 2 and nbgrad.last_report().run == third.run

    shell.run_line_magic("unload_ext", "nbgrad")
    missing = shell.run_cell(cell)
    assert "gradcheck" in str(missing.error_in_exec)
    shell.run_line_magic("load_ext", "nbgrad")
    assert len(shell.run_cell(cell).result.run.steps) == 2


def test_a_checked_function_and_a_capture_block_also_end_and_restore():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(8, 3)
    before = pictures({"model": model, "opt": opt}, ["model", "opt"])
    steps = []

    def train() -> None:  # the model and optimizer are reached through the closure
        while True:
            try:
                opt.zero_grad()
                model(x).sum().backward()
                steps.append(1)
                opt.step()
            except:  # noqa: E722 - the point of the test
                pass

    report = nbgrad.gradcheck(train, steps=3)
    assert len(report.run.steps) == 3 and len(steps) == 3
    assert report.run.restore.objects == ["train.model", "train.opt"]
    assert same(before, pictures({"model": model, "opt": opt}, ["model", "opt"])) == []

    with nbgrad.capture(steps=2) as block:
        while True:
            try:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            except BaseException:
                pass
    assert len(block.report.run.steps) == 2 and block.report.run.stopped_by == "steps"
    assert same(before, pictures({"model": model, "opt": opt}, ["model", "opt"])) == []
    assert sys.gettrace() is None
