"""Checks across torchrun ranks (nbgrad/distributed, capture/ranks.py, rules/ranks.py).

The first part runs in this process: the checksums against plain torch, the records' JSON round
trip, the merge, and each cross-rank rule on records that differ in exactly the way it reads. The
second part starts real jobs: `nbgrad check --nproc-per-node 2` (torch.distributed.run, two CPU
processes, gloo) on the scripts of docs/examples/distributed, and a script that calls
`nbgrad.capture()` under a torchrun of its own. After each job no process of it may be left.

Each job costs one torchrun start (four Python processes importing torch): about 10 s on a quiet
2-core machine, 20-30 s on a loaded one; the file's 10 jobs take 2-5 minutes.
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

from nbgrad.capture.ranks import checksums
from nbgrad.cli import main
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules import ranks as rules
from nbgrad.distributed.launch import free_port
from nbgrad.distributed.merge import merge
from nbgrad.records import (
    DDPModule,
    ErrorInfo,
    LoaderInfo,
    ModuleCall,
    OptimizerRecord,
    OptimizerState,
    ParamInfo,
    RankRecord,
    RankStep,
    Run,
    StepRecord,
)
from nbgrad.report import Report

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "distributed"
PYTHON = sys.executable


# -- in this process ------------------------------------------------------------------------------------
def test_checksums_are_each_tensors_sum_and_sum_of_squares():
    torch.manual_seed(0)
    # 40 small tensors take the flat path, the large ones the per-tensor path, mixed in order
    tensors = [torch.randn(3, 5) for _ in range(40)] + [torch.randn(300, 300), torch.randn(7)]
    tensors.insert(5, torch.randn(70000))
    got = checksums(tensors, {}, "k")
    want = torch.tensor([[t.sum().item(), t.square().sum().item()] for t in tensors])
    assert got.shape == (len(tensors), 2)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    few = checksums(tensors[:3])  # below the flat path's count: one kernel per tensor
    torch.testing.assert_close(few, want[:3], rtol=1e-5, atol=1e-4)


def _step(sums: list[float], squares: list[float], grads: list[float | None] | None = None,
          index: int = 0, sync: bool | None = True) -> RankStep:
    grads = grads if grads is not None else [1.0] * len(sums)
    return RankStep(index=index, optimizer=0, param_sum=sums, param_square_sum=squares,
                    grad_sum=grads, grad_square_sum=[None if g is None else g * g for g in grads],
                    grad_sync=sync)


def _run(ranks: list[RankRecord], steps: int = 2, params: tuple[str, ...] = ("fc.weight", "fc.bias"),
         source: str = "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n") -> Run:
    return Run(
        source=source, first_line=1, steps_requested=steps, timeout_s=60.0, stopped_by="steps",
        elapsed_s=1.0,
        params={p: ParamInfo(p, "fc", [4], 4, "float32", "cpu", True, 0, 0) for p in params},
        optimizers=[OptimizerRecord("opt", "SGD", [list(params)], steps, OptimizerState([], {}),
                                    OptimizerState([], {}))],
        steps=[StepRecord(i, 0, [1.0], 1, [0.1], None, False, 0.01) for i in range(steps)],
        ranks=ranks)


def _rank(rank: int, **fields) -> RankRecord:
    defaults = dict(world_size=2, stopped_by="steps", steps_taken=2, ended_at=100.0 + rank)
    return RankRecord(rank=rank, **{**defaults, **fields})


def test_rank_records_round_trip_through_json():
    record = _rank(1, checksums=[_step([1.0, 2.0], [3.0, 4.0], [0.5, None])],
                   initial=_step([1.0, 2.0], [3.0, 4.0], [None, None], index=-1),
                   ddp=[DDPModule("model", ["fc.weight"], True)],
                   loaders=[LoaderInfo("loader", "RandomSampler", 64, 8, 8, line=3)],
                   batchnorm=[ModuleCall("bn", "BatchNorm1d", 0, True, 4)],
                   batch_fingerprints=[[1.0, 2.0], None], error=ErrorInfo("ValueError", "x", 3))
    run = _run([_rank(0), record])
    assert Run.from_json(run.to_json()) == run


def test_drift_fires_on_differing_weights_and_names_the_missing_wrapper():
    same = _step([0.5, 0.1], [2.0, 0.01], [0.3, 0.2])
    apart = _step([0.5, 0.1], [2.1, 0.01], [0.3, 0.25])
    run = _run([_rank(0, checksums=[same]), _rank(1, checksums=[apart])])
    (found,) = rules.parameters_differ(run)
    assert found.code == "NBG951" and found.severity == "error"
    assert "'fc.weight' sum of squares 2 on rank 0, 2.1 on rank 1" in found.evidence[0].text
    assert any("gradients at step 0 differ" in e.text for e in found.evidence)
    assert any("no DistributedDataParallel wrapper ran" in e.text for e in found.evidence)
    assert found.fix_code == "model = torch.nn.parallel.DistributedDataParallel(model)"
    assert found.line == 1


def test_drift_stays_quiet_on_equal_checksums_and_on_float_rounding():
    step = _step([0.5, 0.1], [2.0, 0.01])
    rounded = _step([0.5 + 1e-8, 0.1], [2.0 * (1 + 2e-7), 0.01])  # float32 rounding, ~1e-7
    wrapped = [DDPModule("model", ["fc.weight", "fc.bias"], False)]
    assert rules.parameters_differ(_run([_rank(0, checksums=[step], ddp=wrapped),
                                         _rank(1, checksums=[rounded], ddp=wrapped)])) == []


def test_drift_under_ddp_with_sync_off_points_at_no_sync():
    wrapped = [DDPModule("model", ["fc.weight", "fc.bias"], False)]
    run = _run([_rank(0, ddp=wrapped, checksums=[_step([0.5, 0.1], [2.0, 0.01], [0.3, 0.2], sync=False)]),
                _rank(1, ddp=wrapped, checksums=[_step([0.5, 0.1], [2.2, 0.01], [0.4, 0.2], sync=False)])],
               source="opt = torch.optim.SGD(model.parameters(), lr=0.1)\nwith model.no_sync():\n")
    (found,) = rules.parameters_differ(run)
    assert any("inside model.no_sync()" in e.text for e in found.evidence)
    assert found.line == 2


def test_a_sharded_model_differs_across_ranks_by_design():
    apart = [_rank(0, checksums=[_step([0.5, 0.1], [2.0, 0.01])], sharded=["DTensor"],
                   batch_fingerprints=[[1.0, 2.0]]),
             _rank(1, checksums=[_step([0.4, 0.2], [1.0, 0.02])], sharded=["DTensor"],
                   batch_fingerprints=[[1.0, 2.0]])]
    assert rules.parameters_differ(_run(apart)) == [] and rules.same_batches(_run(apart)) == []


def test_same_batches_fires_only_when_every_rank_saw_the_same_input():
    loader = [LoaderInfo("loader", "RandomSampler", 512, 16, 32, line=7)]
    same = _run([_rank(0, batch_fingerprints=[[3.0, 9.0], [1.0, 4.0]], loaders=loader),
                 _rank(1, batch_fingerprints=[[3.0, 9.0], [1.0, 4.0]], loaders=loader)])
    (found,) = rules.same_batches(same)
    assert (found.code, found.severity, found.line) == ("NBG952", "warning", 7)
    assert "RandomSampler from 512 examples, 16 batches per epoch on each rank" in \
        found.evidence[2].text and "would give each rank 256" in found.evidence[2].text
    differ = _run([_rank(0, batch_fingerprints=[[3.0, 9.0], [1.0, 4.0]]),
                   _rank(1, batch_fingerprints=[[3.0, 9.0], [2.0, 4.0]])])  # step 1 differs
    assert rules.same_batches(differ) == []


def test_uneven_steps_names_the_rank_whose_loop_ended():
    run = _run([_rank(0, steps_taken=5, stopped_by="error", ended_at=110.0, stop_line=3,
                      error=ErrorInfo("RuntimeError", "Connection closed by peer", 3)),
                _rank(1, steps_taken=3, stopped_by="finished", ended_at=104.0, step_lines=[2, 2, 2])])
    (found,) = rules.uneven_steps(run)
    assert found.title.startswith("Rank 1's loop ended after 3 optimizer steps")
    assert found.line == 2
    same = _run([_rank(0), _rank(1)])
    assert rules.uneven_steps(same) == []


def test_uneven_steps_blames_the_first_rank_that_raised():
    run = _run([_rank(0, steps_taken=2, stopped_by="rank", ended_at=105.0, stop_line=9),
                _rank(1, steps_taken=2, stopped_by="error", ended_at=101.0, stop_line=4,
                      error=ErrorInfo("ValueError", "bad batch", 4))])
    (found,) = rules.uneven_steps(run)
    assert found.title == ("Rank 1 raised ValueError after 2 steps: the other ranks cannot go on "
                           "without it")
    assert found.line == 4


def test_ddp_unused_parameters_from_the_error_and_as_a_note():
    module = DDPModule("model", ["fc.weight", "fc.bias"], find_unused_parameters=False)
    run = _run([_rank(0, ddp=[module]), _rank(1, ddp=[module])], steps=1,
               source="model = DistributedDataParallel(Net())\n")
    run.steps[0].params = {"fc.weight": _stats(1.0), "fc.bias": _stats(None)}
    run.error = ErrorInfo("RuntimeError", "Expected to have finished reduction in the prior "
                          "iteration before starting a new one.", 5)
    (found,) = rules.ddp_unused_parameters(run)
    assert found.severity == "error" and "fc.bias of 'model' got no gradient" in found.evidence[1].text
    assert found.fix_code == "model = DistributedDataParallel(Net(), find_unused_parameters=True)"
    searching = DDPModule("model", ["fc.weight", "fc.bias"], find_unused_parameters=True)
    run = _run([_rank(0, ddp=[searching]), _rank(1, ddp=[searching])])
    for step in run.steps:
        step.params = {"fc.weight": _stats(1.0), "fc.bias": _stats(0.5)}
    (note,) = rules.ddp_unused_parameters(run)
    assert note.severity == "info" and note.title.startswith("find_unused_parameters=True is not needed")


def _stats(grad: float | None):
    from nbgrad.records import ParamStats

    return ParamStats(grad, 0.0, 1.0, 0.1, 0.1)


def test_batchnorm_note_under_sixteen_examples_per_rank_not_for_sync_batchnorm():
    small = [ModuleCall("bn", "BatchNorm1d", 0, True, 4)]
    (found,) = rules.batchnorm_small_rank_batch(_run([_rank(0, batchnorm=small), _rank(1)]))
    assert found.severity == "info" and "batch of 4 on rank 0" in found.evidence[0].text
    synced = [ModuleCall("bn", "SyncBatchNorm", 0, True, 4)]
    large = [ModuleCall("bn", "BatchNorm1d", 0, True, 32)]
    assert rules.batchnorm_small_rank_batch(_run([_rank(0, batchnorm=synced), _rank(1)])) == []
    assert rules.batchnorm_small_rank_batch(_run([_rank(0, batchnorm=large), _rank(1)])) == []


def test_rules_say_nothing_about_a_run_of_one_process():
    run = _run([_rank(0, checksums=[_step([1.0], [1.0])], batch_fingerprints=[[1.0, 1.0]])])
    assert all(rule(run) == [] for rule in rules.RULES)


def test_merge_keeps_rank_zero_adds_other_ranks_findings_and_names_the_first_error():
    own = Diagnosis("NBG304", "zero-grad-after-step", "info", "t", [], "w", "f")
    only_one = Diagnosis("NBG503", "nan-or-inf", "error", "NaN", [Evidence("at step 1")], "w", "f")
    zero = Report(_run([_rank(0, stopped_by="rank", ended_at=105.0)]), [own])
    one_run = _run([_rank(1, stopped_by="error", ended_at=101.0,
                          error=ErrorInfo("ValueError", "bad", 4))])
    one_run.error = ErrorInfo("ValueError", "bad", 4)
    one = Report(one_run, [own, only_one])
    merged = merge({0: zero, 1: one}, 2)
    assert [r.rank for r in merged.run.ranks] == [0, 1]
    assert merged.run.error == ErrorInfo("ValueError", "bad", 4)  # rank 1 ended first
    codes = [d.code for d in merged.diagnoses]
    assert "NBG503" in codes and "NBG953" in codes
    nan = next(d for d in merged.diagnoses if d.code == "NBG503")
    assert nan.evidence[0].text == "found on rank 1 of 2 that reported"
    gone = merge({0: zero}, 2, silent="no record within 60 s")
    assert gone.run.ranks[1].reported is False and gone.run.ranks[1].note == "no record within 60 s"


# -- one rank in this process, the job's store beside it ----------------------------------------------
@pytest.fixture
def rank_zero_of_two(monkeypatch):
    """This process as rank 0 of 2 started by `nbgrad check`: a store of its own, checks numbered
    from 1000 so that the test knows their keys."""
    import itertools
    from datetime import timedelta

    import torch.distributed as dist

    from nbgrad.distributed import rank as rank_module

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=30))
    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0",
                        "NBGRAD_STORE": f"127.0.0.1:{store.port}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rank_module, "_SEQUENCE", itertools.count(1000))
    return store


def _training(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              during=lambda i: None):
    def train() -> None:
        for i in range(100_000):
            during(i)
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    return train


def test_a_rank_records_checksums_by_hand_and_leaves_its_report(rank_zero_of_two):
    import nbgrad

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    start = [p.detach().clone() for p in model.parameters()]
    report = nbgrad.gradcheck(_training(model, opt, x, y), steps=3, keep=True)
    (own,) = report.run.ranks
    assert (own.rank, own.world_size, own.steps_taken, own.stopped_by) == (0, 2, 3, "steps")
    replay = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))  # the same steps by hand
    with torch.no_grad():
        for p, s in zip(replay.parameters(), start):
            p.copy_(s)
    assert own.initial.param_square_sum == pytest.approx([s.square().sum().item() for s in start])
    for step in own.checksums:
        replay.zero_grad()
        nn.functional.mse_loss(replay(x), y).backward()
        grads = [p.grad.square().sum().item() for p in replay.parameters()]
        with torch.no_grad():
            for p in replay.parameters():
                p -= 0.1 * p.grad
        assert step.grad_square_sum == pytest.approx(grads, rel=1e-5)
        assert step.param_sum == pytest.approx([p.sum().item() for p in replay.parameters()],
                                               rel=1e-5, abs=1e-6)
    ended = json.loads(rank_zero_of_two.get("nbgrad/1000/0/ended"))
    assert (ended["stopped_by"], ended["steps"]) == ("steps", 3)
    shared = Report.from_json(rank_zero_of_two.get("nbgrad/1000/0/report").decode())
    assert shared.run.ranks == report.run.ranks


def test_a_rank_stops_when_another_rank_raised(rank_zero_of_two):
    import nbgrad

    model, x, y = nn.Linear(4, 1), torch.randn(8, 4), torch.randn(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    peer = json.dumps({"stopped_by": "error", "steps": 2, "error": "ValueError: bad"})

    def peer_fails(i: int) -> None:
        if i == 2:
            rank_zero_of_two.set("nbgrad/1000/1/ended", peer)

    started = time.monotonic()
    report = nbgrad.gradcheck(_training(model, opt, x, y, peer_fails), steps=100_000, timeout=60)
    assert report.run.stopped_by == "rank" and time.monotonic() - started < 30
    assert 2 <= len(report.run.steps) < 100_000
    ended = json.loads(rank_zero_of_two.get("nbgrad/1000/0/ended"))
    assert ended["stopped_by"] == "rank"


def test_a_rank_that_cannot_be_stopped_leaves_a_stuck_note(rank_zero_of_two):
    import contextlib
    from datetime import timedelta

    import nbgrad

    model, x, y = nn.Linear(4, 1), torch.randn(8, 4), torch.randn(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    peer = json.dumps({"stopped_by": "error", "steps": 2})
    client = rank_zero_of_two

    def blocked(i: int) -> None:
        if i == 2:
            client.set("nbgrad/1000/1/ended", peer)
            with contextlib.suppress(RuntimeError):  # waits in C++, as in a collective
                client.wait(["never-set"], timedelta(seconds=12))

    nbgrad.gradcheck(_training(model, opt, x, y, blocked), steps=100_000, timeout=60)
    note = json.loads(rank_zero_of_two.get("nbgrad/1000/0/stuck"))
    assert note["steps"] == 2 and note["waited_s"] >= 5
    assert note["reason"] == "rank 1 ended (error)"
    assert note["frames"][-1].endswith('client.wait(["never-set"], timedelta(seconds=12))')


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


@pytest.mark.distributed
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


@pytest.mark.distributed
def test_no_distributed_sampler_every_rank_sees_the_same_batches(tmp_path, capfd):
    status, data, out = check_job(tmp_path, capfd, "same_batches.py", "--broken")
    assert status == 0  # a warning: the job trains, at the speed of one process
    assert _codes(data) == ["NBG952"]
    (found,) = data["diagnoses"]
    assert found["line"] == 22 and "RandomSampler from 512 examples" in found["evidence"][2]["text"]
    assert "[WARNING NBG952 ranks-same-batches]" in out


@pytest.mark.distributed
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


@pytest.mark.distributed
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


@pytest.mark.distributed
def test_uneven_batches_leave_a_rank_behind(tmp_path, capfd):
    status, data, _ = check_job(tmp_path, capfd, "uneven_steps.py", "--broken")
    assert status == 1
    steps = [(r["rank"], r["steps_taken"], r["stopped_by"]) for r in data["run"]["ranks"]]
    assert steps[1] == (1, 3, "finished")  # 96 examples on rank 1: three batches of 16
    (found,) = [d for d in data["diagnoses"] if d["code"] == "NBG953"]
    assert found["title"].startswith("Rank 1's loop ended after 3 optimizer steps")


@pytest.mark.distributed
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


@pytest.mark.distributed
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


@pytest.mark.distributed
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


@pytest.mark.distributed
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
