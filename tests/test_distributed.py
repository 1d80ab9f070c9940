"""Checks across torchrun ranks, in real jobs: `nbgrad check --nproc-per-node 2`
(torch.distributed.run, two CPU processes, gloo) on the scripts of docs/examples/distributed, a
job stopped with Ctrl-C, and a script that calls `nbgrad.capture()` under a torchrun of its own.
After each job no process of it may be left. tests/test_ranks.py has the tests on records and of
one rank in this process.

Each job costs one torchrun start (four Python processes importing torch): about 11 s on a
2-core machine shared with other work, 20-30 s on a heavily loaded one; the file's 14 jobs took
3.5 minutes (and 5 minutes inside the full suite, under load).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from torch import nn

from nbgrad.cli import main
from nbgrad.distributed.launch import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "distributed"
PYTHON = sys.executable


# -- real jobs ------------------------------------------------------------------------------------------
def _leftovers(marker: str) -> list[psutil.Process]:
    """Processes whose command line mentions `marker` (a script path unique to one test)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _script(tmp_path: Path, name: str) -> Path:
    """A copy of an example under a path of this test's own, for the leftover-process check."""
    target = tmp_path / name
    shutil.copy(EXAMPLES / name, target)
    return target


def check_job(tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str, *args: str,
              timeout: int = 20, steps: int = 5) -> tuple[int, dict, str]:
    """`nbgrad check --nproc-per-node 2 NAME ARGS`: the exit status, the JSON report, the text;
    and no process of the job left afterwards."""
    script = _script(tmp_path, name)
    report = tmp_path / "report.json"
    argv = ["check", "--nproc-per-node", "2", "--steps", str(steps), "--timeout", str(timeout),
            "--json", str(report), str(script)]
    status = main(argv + (["--", *args] if args else []))
    out = capfd.readouterr().out
    assert _leftovers(str(script)) == []
    assert psutil.Process().children(recursive=True) == []
    return status, json.loads(report.read_text()), out


def _codes(data: dict) -> list[str]:
    return [d["code"] for d in data["diagnoses"]]


def _first_step_oracle() -> float:
    """Sum of squares of the weights after step 0 of same_batches.py on 2 ranks, by hand: DDP's
    averaged gradient of two equal batches is the gradient of their concatenation."""
    from torch.utils.data import DistributedSampler, TensorDataset

    torch.manual_seed(0)
    data = TensorDataset(torch.randn(512, 8), torch.randn(512, 1))
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    batches = []
    for rank in range(2):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank)
        sampler.set_epoch(0)
        batches.append(list(sampler)[:32])
    x, y = data[batches[0] + batches[1]]
    nn.functional.mse_loss(model(x), y).backward()
    with torch.no_grad():
        return sum((p - 0.05 * p.grad).square().sum().item() for p in model.parameters())


def test_correct_ddp_with_distributed_sampler_is_clean(tmp_path, capfd):
    status, data, out = check_job(tmp_path, capfd, "same_batches.py")
    assert status == 0 and out.startswith("nbgrad: No problems found in 5 steps")
    ranks = data["run"]["ranks"]
    assert [(r["rank"], r["steps_taken"], r["stopped_by"], r["backend"]) for r in ranks] == \
        [(0, 5, "steps", "gloo"), (1, 5, "steps", "gloo")]
    # DDP makes the weights the same bytes on both ranks, and they are the ones computed by hand
    assert ranks[0]["checksums"] == ranks[1]["checksums"]
    after_first = sum(ranks[0]["checksums"][0]["param_square_sum"])
    assert math.isclose(after_first, _first_step_oracle(), rel_tol=1e-5)
    assert ranks[0]["batch_fingerprints"][0] != ranks[1]["batch_fingerprints"][0]
    assert ranks[0]["loaders"][0]["sampler"] == "DistributedSampler"


def test_no_distributed_sampler_every_rank_sees_the_same_batches(tmp_path, capfd):
    status, data, out = check_job(tmp_path, capfd, "same_batches.py", "--broken")
    assert status == 0  # a warning: the job trains, at the speed of one process
    assert _codes(data) == ["NBG952"]
    (found,) = data["diagnoses"]
    assert found["line"] == 22 and "RandomSampler from 512 examples" in found["evidence"][2]["text"]
    assert "[WARNING NBG952 ranks-same-batches]" in out


def test_unwrapped_model_drifts_apart(tmp_path, capfd):
    status, data, out = check_job(tmp_path, capfd, "drift.py", "--broken")
    assert status == 1 and _codes(data) == ["NBG951"]
    (found,) = data["diagnoses"]
    assert found["title"].startswith("The model's weights differ across ranks after step 0")
    assert found["fix_code"] == "model = torch.nn.parallel.DistributedDataParallel(model)"
    ranks = data["run"]["ranks"]
    assert ranks[0]["initial"] == ranks[1]["initial"]  # same seed: the same start, then apart
    assert ranks[0]["checksums"][0] != ranks[1]["checksums"][0]
    assert "Where the ranks differ:" in out and "weights after last step" in out


def test_a_rank_that_raises_ends_every_rank_within_the_timeout(tmp_path, capfd):
    started = time.time()
    status, data, out = check_job(tmp_path, capfd, "rank_raises.py", "--broken", timeout=20)
    assert status == 1
    run = data["run"]
    assert run["error"]["type"] == "ValueError" and run["error"]["line"] == 19
    one, zero = run["ranks"][1], run["ranks"][0]
    assert (one["stopped_by"], one["steps_taken"]) == ("error", 2)
    assert zero["reported"] and zero["stopped_by"] in ("rank", "error")  # stopped, or gloo's error
    assert zero["ended_at"] - one["ended_at"] < 20  # within the timeout of rank 1's end
    assert time.time() - started < 120
    (found,) = [d for d in data["diagnoses"] if d["code"] == "NBG953"]
    assert found["title"].startswith("Rank 1 raised ValueError after 2 steps")
    assert "error at line 19: ValueError: batch 2 of rank 1 is corrupt" in out


def test_uneven_batches_leave_a_rank_behind(tmp_path, capfd):
    status, data, _ = check_job(tmp_path, capfd, "uneven_steps.py", "--broken")
    assert status == 1
    steps = [(r["rank"], r["steps_taken"], r["stopped_by"]) for r in data["run"]["ranks"]]
    assert steps[1] == (1, 3, "finished")  # 96 examples on rank 1: three batches of 16
    (found,) = [d for d in data["diagnoses"] if d["code"] == "NBG953"]
    assert found["title"].startswith("Rank 1's loop ended after 3 optimizer steps")


def test_ranks_stuck_in_different_collectives_are_ended_with_where_they_waited(tmp_path, capfd):
    source = (EXAMPLES / "uneven_steps.py").read_text().replace(
        "    dist.destroy_process_group()", "    dist.barrier()\n    dist.destroy_process_group()")
    (tmp_path / "uneven_barrier.py").write_text(source)
    script = tmp_path / "uneven_barrier.py"
    report = tmp_path / "r.json"
    started = time.time()
    # the timeout counts from the script's start, which includes waiting for the other rank to
    # import torch and join the process group: seconds on a loaded machine
    status = main(["check", "--nproc-per-node", "2", "--steps", "5", "--timeout", "15",
                   "--json", str(report), str(script), "--", "--broken"])
    capfd.readouterr()
    assert _leftovers(str(script)) == [] and psutil.Process().children(recursive=True) == []
    data = json.loads(report.read_text())
    assert status == 1 and time.time() - started < 120
    ranks = data["run"]["ranks"]
    assert [(r["reported"], r["stuck"]["line"]) for r in ranks] == [(False, 32), (False, 34)]
    (found,) = data["diagnoses"]
    assert found["code"] == "NBG953" and found["title"].startswith("Every rank is stuck")


def test_lightning_ddp_runs_under_nproc_per_node(tmp_path, capfd):
    pytest.importorskip("pytorch_lightning")
    status, data, out = check_job(tmp_path, capfd, "lightning_ddp.py", timeout=60)
    assert status == 0 and out.startswith("nbgrad: No problems found in 5 steps")
    ranks = data["run"]["ranks"]
    assert [(r["steps_taken"], r["stopped_by"]) for r in ranks] == [(5, "steps"), (5, "steps")]
    assert ranks[0]["checksums"] == ranks[1]["checksums"]  # Lightning's DDP synced them
    assert data["run"]["optimizers"][0]["closure"] is True  # Lightning steps with a closure


CAPTURE = """
import torch, torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
import nbgrad

dist.init_process_group("gloo")
torch.manual_seed(0)
data = TensorDataset(torch.randn(96, 8), torch.randn(96, 1))
loader = DataLoader(data, batch_size=16, sampler=DistributedSampler(data))
model = DistributedDataParallel(nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
with nbgrad.capture(steps=10, timeout=60) as check:
    for x, y in loader:  # three batches per rank: the loop ends before the steps asked for
        opt.zero_grad(); nn.functional.mse_loss(model(x), y).backward(); opt.step()
ranks = check.report.run.ranks
print("RANK", dist.get_rank(), len(ranks), [r.steps_taken for r in ranks],
      [d.code for d in check.report.diagnoses])
dist.destroy_process_group()
"""


def test_capture_inside_torchrun_merges_on_rank_zero(tmp_path):
    script = tmp_path / "capture_job.py"
    script.write_text(CAPTURE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    done = subprocess.run([PYTHON, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                           str(script)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(re.findall(r"^RANK .*$", done.stdout, re.MULTILINE))
    assert lines == ["RANK 0 2 [3, 3] []", "RANK 1 1 [3] []"]  # rank 0 holds both ranks' records
    assert _leftovers(str(script)) == []


@pytest.mark.parametrize("name, args, codes, status", [
    ("uneven_steps.py", (), [], 0),
    ("unused_parameters.py", (), [], 0),
    ("unused_parameters.py", ("--broken",), ["NBG954"], 1),
    ("batchnorm.py", (), [], 0),
    ("batchnorm.py", ("--broken",), ["NBG955"], 0),
])
def test_the_other_examples_come_out_as_documented(tmp_path, capfd, name, args, codes, status):
    got, data, _ = check_job(tmp_path, capfd, name, *args)
    found = [d["code"] for d in data["diagnoses"]
             if d["severity"] != "info" or d["code"].startswith("NBG95")]
    assert (got, found) == (status, codes)  # a correct script: no warning, no error
    if codes == ["NBG954"]:  # the unused head is named; the drift it causes is folded into it
        (found,) = [d for d in data["diagnoses"] if d["code"] == "NBG954"]
        assert "aux.weight, aux.bias of 'model' got no gradient at step 0" in \
            [e["text"] for e in found["evidence"]]
        assert any(e["text"].startswith("after step 0, the weights") for e in found["evidence"])


SLOW_LOOP = """
import time
import torch, torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")
torch.manual_seed(dist.get_rank())  # each rank its own batches; DDP copies rank 0's weights
model = DistributedDataParallel(nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(10_000):
    x, y = torch.randn(4, 8), torch.randn(4, 1)
    opt.zero_grad(); nn.functional.mse_loss(model(x), y).backward(); opt.step()
    time.sleep(0.2)
"""


def test_ctrl_c_stops_every_rank_reports_them_and_exits_130(tmp_path):
    import signal

    script = tmp_path / "slow_job.py"
    script.write_text(SLOW_LOOP)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cli = subprocess.Popen([PYTHON, "-m", "nbgrad", "check", "--nproc-per-node", "2", "--steps",
                            "1000", str(script)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert cli.stderr is not None
    for line in cli.stderr:  # rank 0's progress: the job is training
        if line.startswith("nbgrad: step 3/"):
            break
    cli.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 130
    assert out.startswith("nbgrad: No problems found in ")  # stopping a job is no problem of it
    assert "(interrupted (KeyboardInterrupt))" in out
    assert re.search(r"^same on every rank: .*ended interrupted", out, re.MULTILINE)
    assert "Traceback" not in err  # torchrun's agent ended normally: nothing to say
    assert _leftovers(str(script)) == []
