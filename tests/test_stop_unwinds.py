"""The stop unwinds like any exception: every `with` exits, every `finally` runs, every run ends,
and only the checked code is stopped (not the user's other threads, not the kernel).

Each test is a reproduction from a hostile user's report, through the magic in a real IPython
shell and the Python API (the `check` fixture), and where it matters in a script subprocess.
"""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.capture import session as session_module
from tests.state_tools import pictures, same

REPO = Path(__file__).resolve().parents[1]
SETUP = """
torch.manual_seed(0)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 4)
n = 0
"""
STEP = "opt.zero_grad(); model(x).float().pow(2).mean().backward(); n += 1; opt.step()"


class Recording:
    """A user's context manager that writes down every enter and exit (and what it exited with)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __enter__(self) -> Recording:
        self.events.append("enter")
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.events.append(f"exit {getattr(kind, '__name__', None)}")


@pytest.fixture(autouse=True)
def quick_grace(monkeypatch):
    """A loop that calls none of nbgrad's hooks is interrupted this long after the timeout."""
    monkeypatch.setattr(session_module, "TIMEOUT_GRACE_S", 0.2)


def torch_modes() -> dict[str, object]:
    return {"grad": torch.is_grad_enabled(), "autocast": torch.is_autocast_enabled("cpu"),
            "anomaly": torch.is_anomaly_enabled(), "inference": torch.is_inference_mode_enabled(),
            "matmul": (torch.ones(2, 2) @ torch.ones(2, 2)).dtype}


def namespace() -> dict:
    ns: dict = {"Recording": Recording, "time": time, "threading": threading}
    exec("import torch\nfrom torch import nn\n" + SETUP, ns)
    return ns


# -- item: a `with` around the stop runs its __exit__ ------------------------------------------
WITH_BLOCKS = {
    "autocast": ('with torch.autocast("cpu", dtype=torch.bfloat16):', {}),
    "detect_anomaly": ("with torch.autograd.detect_anomaly():", {}),
    "set_grad_enabled(True) inside no_grad": ("with torch.no_grad(), torch.enable_grad():", {}),
    "a user's context manager": ("with cm:", {}),
    "an open file": ("with open(path, 'w') as f:", {}),
}


@pytest.mark.parametrize("name", list(WITH_BLOCKS))
def test_a_with_block_around_the_stopped_loop_exits(check, name, tmp_path):
    header, _ = WITH_BLOCKS[name]
    ns = namespace()
    ns.update(cm=Recording(), path=str(tmp_path / "log.txt"))
    before_modes, before = torch_modes(), pictures(ns, ["model", "opt"])
    cell = f"{header}\n    for i in range(100):\n        {STEP}\n"
    report = check(cell, namespace=ns, steps=3)
    assert len(report.run.steps) == 3 and report.run.stopped_by == "steps"
    assert torch_modes() == before_modes  # autocast, grad and anomaly mode as before
    assert ns["cm"].events in ([], ["enter", "exit StopRun"])
    if name == "a user's context manager":
        assert ns["cm"].events == ["enter", "exit StopRun"]
    if name == "an open file":
        assert ns["f"].closed
    assert same(before, pictures(ns, ["model", "opt"])) == []
    assert sys.gettrace() is None and sys.exc_info() == (None, None, None)


def test_no_grad_around_a_loop_that_times_out_is_left(check):
    ns = namespace()
    report = check("with torch.no_grad():\n    while True:\n        model(x)\n",
                   namespace=ns, steps=3, timeout=0.3)
    assert report.run.stopped_by == "timeout"
    assert torch.is_grad_enabled()


SWALLOWED_WITH = {
    "the loop inside the with swallows the stop": f"""
with cm:
    while True:
        try:
            {STEP}
        except:
            pass
""",
    "the with inside the swallowing loop exits normally": f"""
while True:
    with cm:
        try:
            {STEP}
        except:
            pass
""",
    "the with inside a try that swallows": f"""
while True:
    try:
        with cm:
            {STEP}
    except BaseException:
        pass
""",
    "nested withs, the inner one suppresses everything": f"""
import contextlib
with cm:
    while True:
        with torch.autocast("cpu", dtype=torch.bfloat16), contextlib.suppress(BaseException):
            {STEP}
""",
}


@pytest.mark.parametrize("shape", list(SWALLOWED_WITH))
def test_a_with_block_exits_when_the_loop_swallows_the_stop(check, shape):
    ns = namespace()
    ns["cm"] = Recording()
    before_modes = torch_modes()
    report = check(SWALLOWED_WITH[shape], namespace=ns, steps=3, timeout=20)
    assert len(report.run.steps) == 3 and ns["n"] == 3
    events = ns["cm"].events
    assert events.count("enter") == len(events) - events.count("enter") > 0, events
    assert torch_modes() == before_modes


def test_finally_and_with_of_a_generator_and_a_function_run(check):
    cell = """
log = []
def batches():
    with cm:
        try:
            while True:
                yield x
        finally:
            log.append("generator finally")
def one_step(batch):
    global n
    with torch.autocast("cpu", dtype=torch.bfloat16):
        try:
            opt.zero_grad(); model(batch).float().pow(2).mean().backward(); n += 1; opt.step()
        finally:
            log.append("step finally")
for batch in batches():
    one_step(batch)
"""
    ns = namespace()
    ns["cm"] = Recording()
    before_modes = torch_modes()
    report = check(cell, namespace=ns, steps=2)
    assert len(report.run.steps) == 2
    import gc

    gc.collect()
    assert ns["log"] == ["step finally"] * 2 + ["generator finally"]
    assert ns["cm"].events == ["enter", "exit GeneratorExit"]
    assert torch_modes() == before_modes


# -- item: nbgrad.capture() as the README shows it ---------------------------------------------
def test_capture_block_in_a_function_ends_quietly():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    before = pictures({"model": model, "opt": opt}, ["model", "opt"])
    seen = []
    with nbgrad.capture(steps=3) as check:
        for i in range(100):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            seen.append(i)
            opt.step()
    assert check.report is not None and len(check.report.run.steps) == 3
    assert check.report.run.stopped_by == "steps" and seen == [0, 1, 2]
    assert same(before, pictures({"model": model, "opt": opt}, ["model", "opt"])) == []
    weight = model.weight.detach().clone()
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()  # the next plain step works: no StopRun, the parameters move
    assert not torch.equal(weight, model.weight)


def test_capture_block_in_a_shell_cell_ends_quietly(shell):
    shell.run_cell("import nbgrad\n" + SETUP)
    result = shell.run_cell(
        f"with nbgrad.capture(steps=3) as check:\n    for i in range(100):\n        {STEP}\n")
    assert result.error_in_exec is None, result.error_in_exec
    report = shell.user_ns["check"].report
    assert len(report.run.steps) == 3 and shell.user_ns["n"] == 3
    after = shell.run_cell(STEP)
    assert after.error_in_exec is None and shell.user_ns["n"] == 4


def test_capture_block_with_a_timeout_around_a_block_that_never_steps():
    model = nn.Linear(4, 1)
    x = torch.randn(8, 4)
    started = time.monotonic()
    with nbgrad.capture(steps=3, timeout=0.3) as check:
        while True:
            model(x)
    assert check.report.run.stopped_by == "timeout"
    with nbgrad.capture(steps=3, timeout=0.3) as check:
        time.sleep(30)
    assert check.report.run.stopped_by == "timeout"
    assert time.monotonic() - started < 10


SCRIPT = """
import time, torch, nbgrad
from torch import nn
torch.manual_seed(0)
model = nn.Linear(4, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1); x = torch.randn(8, 4)
with nbgrad.capture(steps=3) as check:
    for i in range(100):
        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
print("steps", len(check.report.run.steps), check.report.run.stopped_by)
def main():
    with nbgrad.capture(steps=2, timeout=0.5) as inner:
        time.sleep(30)
    return inner
print("timeout", main().report.run.stopped_by)
opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
print("plain step after: ok")
"""


def test_capture_block_in_a_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["steps 3 steps", "timeout timeout", "plain step after: ok"]


# -- item: a loop that swallows the stop outside the cell --------------------------------------
EARLIER_CELL = f"""
def train():
    global n
    while True:
        try:
            {STEP}
        except BaseException:
            pass

def spin():
    while True:
        try:
            model(x)
        except BaseException:
            pass
"""


def test_a_function_from_an_earlier_cell_that_swallows_the_stop_ends(shell):
    shell.run_cell(SETUP)
    shell.run_cell(EARLIER_CELL)
    report = shell.run_cell("%%gradcheck --steps 3 --timeout 20\ntrain()\n").result
    assert len(report.run.steps) == 3 and shell.user_ns["n"] == 3
    started = time.monotonic()
    report = shell.run_cell("%%gradcheck --steps 3 --timeout 0.3\nspin()\n").result
    assert report.run.stopped_by == "timeout" and time.monotonic() - started < 10


def test_a_loop_that_swallows_the_stop_in_an_imported_module_ends_under_nbgrad_check(tmp_path):
    (tmp_path / "loops.py").write_text(textwrap.dedent("""
        def train(model, opt, x, seen):
            while True:
                try:
                    opt.zero_grad(); model(x).pow(2).mean().backward(); seen.append(1); opt.step()
                except BaseException:
                    pass
    """))
    (tmp_path / "train.py").write_text(textwrap.dedent("""
        import torch, loops
        from torch import nn
        model = nn.Linear(4, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        seen = []
        try:
            loops.train(model, opt, torch.randn(8, 4), seen)
        finally:
            print("iterations", len(seen))
    """))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "nbgrad", "check", "train.py", "--steps", "3",
                           "--timeout", "30"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "iterations 3" in done.stdout
    assert "3 optimizer steps recorded of 3 requested (stopped after the requested steps)" in done.stdout


# -- item: the timeout interrupts blocking calls -----------------------------------------------
@pytest.mark.parametrize("blocking", ["time.sleep(30)", "queue.Queue().get()",
                                      "threading.Event().wait()"])
def test_the_timeout_interrupts_a_blocking_call(check, blocking):
    handler = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    report = check(f"import queue, threading, time\n{blocking}\n", steps=3, timeout=0.5)
    assert report.run.stopped_by == "timeout"
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGINT) is handler  # the user's Ctrl-C handler is back
    assert signal.SIGINT not in signal.sigpending()


def test_a_cell_that_replaced_the_ctrl_c_handler_keeps_it(check):
    seen = []
    ns = namespace()
    ns["mine"] = lambda signum, frame: seen.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    try:
        report = check("import signal\nsignal.signal(signal.SIGINT, mine)\n"
                       "while True:\n    model(x)\n", namespace=ns, steps=2, timeout=0.3)
        assert signal.getsignal(signal.SIGINT) is ns["mine"]  # kept: the cell's own change
    finally:
        signal.signal(signal.SIGINT, handler)
    assert report.run.stopped_by == "timeout" and seen == []  # the timeout is not a Ctrl-C


# -- item: threads ---------------------------------------------------------------------------
THREAD_CELL = """
import threading, torch
model2 = nn.Linear(4, 1); opt2 = torch.optim.SGD(model2.parameters(), lr=0.01)
halt = threading.Event()
thread_log = {"steps": 0, "errors": [], "modes": 0}
def background():
    while not halt.is_set():
        try:
            opt2.zero_grad(); model2(x).pow(2).mean().backward(); opt2.step()
            thread_log["steps"] += 1
            thread_log["modes"] = max(thread_log["modes"], torch._C._len_torch_function_stack())
        except BaseException as error:
            thread_log["errors"].append(repr(error))
        halt.wait(0.002)
worker = threading.Thread(target=background, daemon=True)
worker.start()
"""


def test_a_training_thread_from_an_earlier_cell_is_left_alone(shell):
    shell.run_cell(SETUP)
    shell.run_cell(THREAD_CELL)
    log = shell.user_ns["thread_log"]
    try:
        deadline = time.monotonic() + 10
        while log["steps"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        report = shell.run_cell(
            f"%%gradcheck --steps 5\nimport time\nfor i in range(100):\n    {STEP}\n    time.sleep(0.01)\n",
        ).result
        steps_at_end = log["steps"]
        time.sleep(0.1)
        assert log["steps"] > steps_at_end  # still training after the check
    finally:
        shell.user_ns["halt"].set()
        shell.user_ns["worker"].join()
    assert len(report.run.steps) == 5
    assert [o.name for o in report.run.optimizers] == ["opt"]
    assert [o.steps for o in report.run.optimizers] == [5]
    assert log["errors"] == [] and log["modes"] == 0


def test_a_thread_the_cell_starts_keeps_no_function_mode(shell):
    shell.run_cell(SETUP)
    cell = f"""%%gradcheck --steps 3
import threading, torch
trained, checked = threading.Event(), threading.Event()
modes = []
def train():
    global n
    for i in range(6):
        try:
            {STEP}
        except BaseException:
            pass
    trained.set()
    checked.wait(30)
    modes.append(torch._C._len_torch_function_stack())
worker = threading.Thread(target=train)
worker.start()
trained.wait(30)
"""
    report = shell.run_cell(cell).result
    shell.user_ns["checked"].set()
    shell.user_ns["worker"].join()
    assert len(report.run.steps) == 3
    assert shell.user_ns["modes"] == [0]


def test_a_training_thread_the_cell_leaves_running_is_stopped_before_the_restore(check):
    ns = namespace()
    before = pictures(ns, ["model", "opt"])
    cell = f"""
import threading, time
def train():
    global n
    while True:
        {STEP}
worker = threading.Thread(target=train, daemon=True)
worker.start()
time.sleep(0.05)
"""
    report = check(cell, namespace=ns, steps=1000, timeout=20)
    assert report.run.stopped_by == "finished" and len(report.run.steps) > 0
    assert not ns["worker"].is_alive()  # stopped: it takes no step on the restored model
    assert same(before, pictures(ns, ["model", "opt"])) == []


def test_a_thread_the_cell_starts_is_recorded_even_with_the_id_of_an_ended_one(shell):
    """A thread's id is reused once it ended: the new thread is the run's, not an earlier one."""
    shell.run_cell(SETUP)
    shell.run_cell("import threading\nrelease = threading.Event()\n"
                   "earlier = [threading.Thread(target=release.wait) for _ in range(4)]\n"
                   "for t in earlier: t.start()")
    cell = f"""%%gradcheck --steps 3 --timeout 20
release.set()
for t in earlier: t.join()
def train():
    global n
    for i in range(100):
        {STEP}
worker = threading.Thread(target=train)
worker.start(); worker.join()
"""
    printed = []
    hook = threading.excepthook

    def mine(args):  # the user's own hook: the stop that ends the worker is not an error
        printed.append(args.exc_type)

    threading.excepthook = mine
    try:
        report = shell.run_cell(cell).result
        assert threading.excepthook is mine
    finally:
        threading.excepthook = hook
    assert len(report.run.steps) == 3 and shell.user_ns["n"] == 3
    assert printed == []
    if shell.user_ns["worker"].ident not in {t.ident for t in shell.user_ns["earlier"]}:
        pytest.skip("recorded, but the new thread did not get an ended thread's id this time")


# -- item: a second Ctrl-C right after the first ----------------------------------------------
def test_a_second_ctrl_c_while_the_report_is_built_keeps_the_report(check, monkeypatch):
    from nbgrad import api

    ns = namespace()
    before = pictures(ns, ["model", "opt"])
    build = api.build_run
    second = []

    def build_then_ctrl_c(*args, **kwargs):
        _thread.interrupt_main()  # the second Ctrl-C lands while nbgrad builds the report
        second.append(True)
        for _ in range(1000):  # time for Python to run the handler here
            pass
        return build(*args, **kwargs)

    monkeypatch.setattr(api, "build_run", build_then_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            check("while True:\n    model(x).sum().backward()\n", namespace=ns, steps=3)
    finally:
        timer.join()
    report = nbgrad.last_report()
    assert second == [True]
    assert report.run.stopped_by == "interrupt" and report.run.backward_calls > 0
    assert same(before, pictures(ns, ["model", "opt"])) == []
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_ctrl_c_after_the_steps_is_raised_after_the_report(check, monkeypatch):
    from nbgrad import api

    ns = namespace()
    build = api.build_run

    def build_then_ctrl_c(*args, **kwargs):
        _thread.interrupt_main()
        for _ in range(1000):
            pass
        return build(*args, **kwargs)

    monkeypatch.setattr(api, "build_run", build_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        check(f"for i in range(100):\n    {STEP}\n", namespace=ns, steps=2)
    assert nbgrad.last_report().run.stopped_by == "steps"
    assert len(nbgrad.last_report().run.steps) == 2
