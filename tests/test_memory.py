"""Memory: what nbgrad adds to a step, and what it does when memory is short.

The probe's windows must not copy activations or logits (a GPT-2-like model's logits are many times
its parameters), and a cell that trains plainly within a memory limit must not fail under the check:
nbgrad measures with less (no update copies) or refuses before anything ran, with a message that
says which limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from nbgrad.capture import budget

ROOT = Path(__file__).resolve().parents[1]


def test_probe_windows_and_step_copies_add_at_most_the_parameter_bytes_to_a_gpt2_like_model():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    w = bench.build("gpt2_like", 1.0)
    x, _ = w.batch()
    logits_bytes = x.numel() * bench.VOCAB * 4
    assert logits_bytes > 5 * w.param_bytes  # the case that matters: logits dwarf the model
    plain = bench.peak_memory("gpt2_like", 1.0, 4, "plain")
    # the first window is step 0; without the restore copy (host memory the report states, and
    # never device memory), which a model the block does not name gets at its first use
    checked = bench.peak_memory("gpt2_like", 1.0, 4, "nbgrad_measuring")
    # the instrument sees a step's own memory: the logits and what backward makes of them
    assert logits_bytes <= plain * 2**20 <= 6 * logits_bytes
    assert (checked - plain) * 2**20 <= w.param_bytes


def _run_capped(cell: str, slack_mb: int, tmp_path: Path) -> dict:
    """In a fresh process: a 400 MB Linear(10000, 10000) with SGD takes one plain step, then the
    address space is capped at what it uses plus `slack_mb`; three plain steps prove that it trains
    within the cap, then `cell` runs through the magic in a real InteractiveShell. Returns what
    happened, and the room nbgrad saw before the cell."""
    script = textwrap.dedent(f"""
        import json, resource, sys
        import torch
        from torch import nn
        from IPython.core.interactiveshell import InteractiveShell
        import nbgrad
        torch.manual_seed(0)
        model = nn.Linear(10000, 10000)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        x = torch.randn(8, 10000)
        def step():
            opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
        step()
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "nbgrad")
        ip.user_ns.update(dict(torch=torch, nn=nn, model=model, opt=opt, x=x))
        # a first check on a tiny model loads what a check and its display load (libraries
        # mapped into the address space), so that the cap below is about memory
        ip.run_cell("%%gradcheck --steps 1\\nw = nn.Linear(2, 1)\\n"
                    "o = torch.optim.SGD(w.parameters(), lr=0.1)\\n"
                    "w(torch.ones(1, 2)).sum().backward(); o.step()")
        warm_up = nbgrad.last_report()
        used = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status")
                    if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (used + {slack_mb} * 2**20, resource.RLIM_INFINITY))
        for _ in range(3):
            step()  # trains plainly under the cap
        def fingerprint():
            return (model.weight.sum().item(), model.weight.norm().item(), model.bias.sum().item())
        before = fingerprint()  # not a copy: 400 MB would not fit under the cap
        from nbgrad.capture import budget
        room = budget.host_room()
        result = ip.run_cell({cell!r})
        report = nbgrad.last_report()
        report = None if report is warm_up else report  # a refused check makes no report
        out = dict(
            error=None if result.error_in_exec is None else
            type(result.error_in_exec).__name__ + ": " + str(result.error_in_exec),
            epochs=ip.user_ns.get("epochs"),
            restored=fingerprint() == before, room_mb=room.free / 2**20,
            report=None if report is None else dict(
                analysis_error=report.analysis_error, steps=len(report.run.steps),
                not_measured=report.run.not_measured,
                updates=[s.params["model.weight"].update_norm for s in report.run.steps],
                grads=[s.params["model.weight"].grad_norm for s in report.run.steps],
                text=report.to_text()))
        print(json.dumps(out))
    """)
    path = tmp_path / "capped.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


CELL = """%%gradcheck --steps 3
epochs = 0
for epoch in range(200):
    epochs += 1
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
"""


def test_a_model_that_trains_within_an_address_space_cap_is_checked_without_update_copies(tmp_path):
    # room for the 800 MB snapshot (weights and gradients), not for a 400 MB copy at each step
    # beside it and the step's own needs
    out = _run_capped(CELL, slack_mb=1200, tmp_path=tmp_path)
    assert out["error"] is None and out["epochs"] == 3 and out["restored"]
    report = out["report"]
    assert report["analysis_error"] is None and report["steps"] == 3
    assert report["updates"] == [None, None, None] and all(g > 0 for g in report["grads"])
    (note,) = report["not_measured"]
    assert note.startswith("update sizes at 3 of 3 steps (a copy of the parameters at each step "
                           "would not fit beside the step itself: 400 MB on cpu, with ")
    assert "400 MB on cpu" in note and "address-space limit (ulimit -v)" in note
    assert f"not measured: {note}" in report["text"]


def test_a_snapshot_that_does_not_fit_under_the_cap_is_refused_before_the_cell_runs(tmp_path):
    out = _run_capped(CELL, slack_mb=500, tmp_path=tmp_path)
    assert out["epochs"] is None and out["restored"] and out["report"] is None  # nothing ran
    assert out["error"].startswith("UsageError: restoring your objects after the check needs a "
                                   "800 MB copy in host memory; only ")
    assert "under the address-space limit (ulimit -v)" in out["error"]
    assert "To fix it: free memory" in out["error"]


def test_host_room_reads_cgroup_v2_and_v1_limits_and_ignores_what_can_be_dropped(tmp_path):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal: 100000000 kB\nMemAvailable: 50000000 kB\n")
    (proc / "self" / "status").write_text("VmSize: 1000 kB\nVmData: 1000 kB\n")
    cgroups = tmp_path / "cgroup"
    leaf = cgroups / "user.slice" / "job"
    leaf.mkdir(parents=True)
    (proc / "self" / "cgroup").write_text("0::/user.slice/job\n")
    (leaf / "memory.max").write_text("max\n")  # the leaf has no limit, its parent has
    (leaf / "memory.current").write_text("100\n")
    (cgroups / "user.slice" / "memory.max").write_text(f"{3 * 2**30}\n")
    (cgroups / "user.slice" / "memory.current").write_text(f"{2 * 2**30}\n")
    (cgroups / "user.slice" / "memory.stat").write_text(f"anon 5\ninactive_file {2**29}\n")
    room = budget.host_room(proc, cgroups)
    assert room is not None and room.free == 2**30 + 2**29  # 3 GB - (2 GB - 0.5 GB of cache)
    assert "user.slice/memory.max" in room.limit
    # cgroup v1: memory controller in its own hierarchy
    (proc / "self" / "cgroup").write_text("4:memory:/docker/abc\n1:cpu:/docker/abc\n")
    v1 = cgroups / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text(f"{2**30}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{2**29}\n")
    room = budget.host_room(proc, cgroups)  # /docker/abc is not there: a namespaced root
    assert room is not None and room.free == 2**29 and "memory.limit_in_bytes" in room.limit
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    room = budget.host_room(proc, cgroups)
    assert room is not None and room.free == 50000000 * 1024 and room.limit.startswith("MemAvailable")


def test_a_copy_that_is_small_next_to_the_room_is_allowed_without_reading_limits_again(monkeypatch):
    reads = []

    def room(device: torch.device) -> budget.Room:
        reads.append(device)
        return budget.Room(10 * 2**30, "test")

    monkeypatch.setattr(budget, "room", room)
    copies = budget.CopyBudget()
    cpu = torch.device("cpu")
    for _ in range(5):
        assert copies.refusal({cpu: 2**20}, new_buffers=2) is None
    assert reads == [cpu]  # read once, then the copy is obviously small
    assert copies.refusal({cpu: 3 * 2**30}, new_buffers=0) is None  # 6 GB of 10: fits
    assert copies.refusal({cpu: 4 * 2**30}, new_buffers=1) == (
        "4.3 GB on cpu, with 10.7 GB free under test")  # 4 + 8 (step) > 10: refused
    assert len(reads) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_gpu_memory_fraction_that_fits_plain_training_fits_the_check(shell):
    """A 1 GB matrix trains within a per-process fraction; under the check it must too."""
    device = torch.device("cuda")
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(device).total_memory
    torch.manual_seed(0)
    model = torch.nn.Linear(16384, 16384, bias=False).to(device)  # 1 GiB of float32
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(64, 16384, device=device)
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
    torch.cuda.synchronize()
    limit = torch.cuda.memory_allocated(device) + 600 * 2**20  # room for the step, not a copy
    old = torch.cuda.get_per_process_memory_fraction(device)
    torch.cuda.set_per_process_memory_fraction(limit / total, device)
    try:
        shell.user_ns.update(dict(model=model, opt=opt, x=x))
        for _ in range(3):  # plain training fits
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        before = (model.weight.sum().item(), torch.linalg.vector_norm(model.weight).item())
        result = shell.run_cell(CELL)
    finally:
        torch.cuda.set_per_process_memory_fraction(old, device)
    assert result.error_in_exec is None
    report = result.result
    assert shell.user_ns["epochs"] == 3 and report.analysis_error is None
    assert [s.params["model.weight"].update_norm for s in report.run.steps] == [None] * 3
    assert report.run.not_measured and "set_per_process_memory_fraction" in report.run.not_measured[0]
    assert (model.weight.sum().item(), torch.linalg.vector_norm(model.weight).item()) == before
