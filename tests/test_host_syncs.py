"""nbgrad itself makes no host-device synchronisation while the steps run; the numbers leave the
device once per device, in finish(), after the loop stopped.

On a GPU a sync is also hidden in a copy between devices (`.to("cuda")` of a CPU tensor,
`torch.tensor(values, device=...)`). On a CPU-only machine those copies cost nothing and cannot be
seen by timing, so this test counts every call that would be one: pulling values to Python
(`.item()`, `.tolist()`, ...), `.to(...)` with a device, `.cpu()`/`.cuda()`, `new_tensor`, and
any tensor made with an explicit `device=`, when nbgrad's code makes the call. Where CUDA is
available the same loop also runs on the GPU under `torch.cuda.set_sync_debug_mode("error")`,
which raises on any real sync inside nbgrad's hooks (nbgrad then reports an internal error).
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.capture import StopRun
from tests.sync_counter import NBGRAD_DIR, SyncCounter


def _as_nbgrad_code(source: str) -> dict:
    """Run `source` as if it were a module of nbgrad (its frames are in nbgrad's folder)."""
    namespace: dict = {"torch": torch}
    exec(compile(source, f"{NBGRAD_DIR}/capture/_sync_probe.py", "exec"), namespace)
    return namespace


def test_counter_sees_each_kind_of_call_only_when_nbgrad_makes_it():
    code = _as_nbgrad_code(
        "def pulls(t):\n"
        "    t.item(); t.tolist(); float(t)\n"
        "def moves(t):\n"
        "    t.to('cpu'); t.to(device=t.device); t.to(t); t.to(torch.float64)\n"
        "    torch.tensor(1.0, device=t.device); torch.zeros(2, device='cpu'); torch.zeros(2)\n"
        "    t.new_tensor([1.0]); t.new_full((), 1.0)\n")
    where = f"{NBGRAD_DIR}/capture/_sync_probe.py"
    with SyncCounter() as counter:
        t = torch.ones(())
        t.item(); t.to("cpu"); torch.tensor(1.0, device="cpu")  # noqa: E702 - the test's own calls
        code["pulls"](t)
        code["moves"](t)
    assert counter.calls == [
        f"item from {where}:2", f"tolist from {where}:2", f"__float__ from {where}:2",
        f"to from {where}:4", f"to from {where}:4", f"to from {where}:4",
        f"tensor from {where}:5", f"zeros from {where}:5", f"new_tensor from {where}:6"]


def _model(device: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Tanh(),
                          nn.LayerNorm(16), nn.Linear(16, 3)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # one step before the check: Adam's state exists, with its step counters on the CPU
    nn.functional.cross_entropy(model(torch.randn(4, 8, device=device)),
                                torch.tensor([0, 1, 2, 0], device=device)).backward()
    opt.step()
    return model, opt


def _run(device: str, steps: int, around: contextlib.AbstractContextManager) -> nbgrad.Report:
    """`steps` steps of a loop under nbgrad, with `around` active from before the first forward
    until the last step's hooks ran (it is closed from nbgrad's progress call, just before the
    stop: nothing of the user's or nbgrad's exit runs inside it)."""
    model, opt = _model(device)
    batches = [(torch.randn(4, 8, device=device), torch.tensor([0, 1, 2, 1], device=device))
               for _ in range(steps)]

    def progress(done: int, total: int) -> None:
        if done == total:
            around.__exit__(None, None, None)

    check = nbgrad.capture(steps=steps, namespace={"model": model, "opt": opt}, progress=progress)
    check.__enter__()
    around.__enter__()
    try:
        for x, y in batches:  # both probe windows (first and last step) run in here
            opt.zero_grad()
            loss = nn.functional.cross_entropy(torch.relu(model(x)) * 2, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()  # the last one ends the loop with nbgrad's StopRun
    except StopRun as stop:  # handled here, as `with nbgrad.capture(...)` would
        assert check.__exit__(StopRun, stop, stop.__traceback__)
    report = check.report
    assert report is not None and report.analysis_error is None  # no failure inside nbgrad
    assert len(report.run.steps) == steps
    return report


def test_no_host_sync_or_device_copy_from_nbgrad_while_steps_run():
    steps = 5
    counter = SyncCounter()
    report = _run("cpu", steps, counter)
    run = report.run
    assert run.forward.windows == [0, steps - 1]
    assert {a.step for a in run.forward.activations} == {0, steps - 1}
    assert run.optimizers[0].before.buffers  # Adam's state was measured at the first step
    assert all(s.params["0.weight"].update_norm for s in run.steps)
    assert counter.calls == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_sync_on_the_gpu_under_sync_debug_mode_error():
    @contextlib.contextmanager
    def strict():
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode("default")

    report = _run("cuda", 5, strict())
    assert report.run.params["0.weight"].device.startswith("cuda")
    assert all(s.params["0.weight"].update_norm for s in report.run.steps)
