"""The stop in a real Jupyter kernel: Ctrl-C (the kernel's interrupt, a real SIGINT), twice in a
row, and the timeout over a blocking call; afterwards the kernel is as it was and the next cell
trains plainly."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP = """
%load_ext nbgrad
import signal, sys, time, torch, nbgrad
from torch import nn
torch.manual_seed(0)
model = nn.Linear(4, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1); x = torch.randn(8, 4)
weight = model.weight.detach().clone()
handler = signal.getsignal(signal.SIGINT)
"""
AFTER = """
report = nbgrad.last_report()
assert report is not None and report.run.stopped_by == {stopped_by!r}, report and report.run.stopped_by
assert report.run.restore.failed == [] and torch.equal(model.weight, weight)
assert signal.getsignal(signal.SIGINT) is handler and signal.SIGINT not in signal.sigpending()
assert sys.gettrace() is None and torch._C._len_torch_function_stack() == 0
opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
assert not torch.equal(model.weight, weight)  # the next plain step trains
with torch.no_grad():
    model.weight.copy_(weight)
"""


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(REPO))
    try:
        reply = run(client, SETUP)
        assert reply["content"]["status"] == "ok", reply["content"]
        # a first check imports what the report needs (matplotlib: seconds): later cells start fast
        warm = run(client, "%%gradcheck --steps 1\nopt.zero_grad(); model(x).sum().backward(); opt.step()")
        assert warm["content"]["status"] == "ok", warm["content"]
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str, timeout: float = 120, during=None) -> dict:
    """Execute `code`; `during()` runs once it shows its first output (the magic's progress bar,
    shown just before the cell runs)."""
    msg_id = client.execute(code)
    outputs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind in ("display_data", "execute_result", "error", "stream"):
            outputs.append(msg)
            if during is not None and len(outputs) == 1:
                during()
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:  # the reply to this request (an interrupted one may answer late)
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    reply["outputs"] = outputs
    return reply


def shown_reports(reply: dict) -> list[str]:
    return [m["content"]["data"]["text/plain"] for m in reply["outputs"]
            if m["msg_type"] in ("display_data", "execute_result")
            and m["content"]["data"].get("text/plain", "").startswith("nbgrad:")]


@pytest.mark.notebook
@pytest.mark.parametrize("gap_s", [0.0, 0.05])
def test_two_ctrl_c_in_a_row_keep_the_report_and_restore(kernel, gap_s):
    manager, client = kernel

    def ctrl_c_twice():
        time.sleep(0.5)  # the loop runs (it never steps)
        manager.interrupt_kernel()
        time.sleep(gap_s)
        manager.interrupt_kernel()

    reply = run(client, "%%gradcheck --steps 3 --timeout 60\nwhile True:\n    model(x).sum().backward()\n",
                during=ctrl_c_twice)
    # the report shows once (the second Ctrl-C may still cut IPython's own traceback short)
    assert len(shown_reports(reply)) == 1
    check = run(client, AFTER.format(stopped_by="interrupt"))
    assert check["content"]["status"] == "ok", "\n".join(check["content"].get("traceback", []))


@pytest.mark.notebook
def test_the_timeout_ends_a_blocking_call_in_a_kernel(kernel):
    _, client = kernel
    started = time.monotonic()
    reply = run(client, "%%gradcheck --steps 3 --timeout 1\nimport queue\nmodel(x)\nqueue.Queue().get()\n")
    assert [m for m in reply["outputs"] if m["msg_type"] == "error"] == []
    assert time.monotonic() - started < 15
    assert len(shown_reports(reply)) == 1
    check = run(client, AFTER.format(stopped_by="timeout"))
    assert check["content"]["status"] == "ok", check["content"]


@pytest.mark.notebook
def test_a_capture_block_in_a_kernel_ends_quietly(kernel):
    _, client = kernel
    reply = run(client, "with nbgrad.capture(steps=3) as check:\n    for i in range(100):\n"
                        "        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()\n"
                        "assert len(check.report.run.steps) == 3\n")
    assert reply["content"]["status"] == "ok", reply["content"]
    check = run(client, AFTER.format(stopped_by="steps"))
    assert check["content"]["status"] == "ok", check["content"]
