"""The cross-rank checks on records and in this process (nbgrad/distributed, capture/ranks.py,
rules/ranks.py): the checksums against plain torch, the records' JSON round trip, each cross-rank
rule on records that differ in exactly the way it reads, the merge, the channels, and one rank of a
job in this process beside the job's store: its checksums against a hand replay, the report it
leaves, its stop when another rank raised, and the note it leaves when it cannot be stopped.
tests/test_distributed.py starts real jobs.
"""

from __future__ import annotations

import json
import time

import pytest
import torch
from torch import nn

from nbgrad.capture.ranks import checksums
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules import ranks as rules
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
    """A step's checksums; `grads` are gradient norms (their squares are recorded)."""
    grads = grads if grads is not None else [1.0] * len(sums)
    return RankStep(index=index, optimizer=0, param_sum=sums, param_square_sum=squares,
                    grad_square_sum=[None if g is None else g * g for g in grads], grad_sync=sync)


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
    # as the recorder writes them: sum, sum of squares and a position-weighted sum per step
    same = _run([_rank(0, batch_fingerprints=[[3.0, 9.0, 5.0], [1.0, 4.0, 2.0]], loaders=loader),
                 _rank(1, batch_fingerprints=[[3.0, 9.0, 5.0], [1.0, 4.0, 2.0]], loaders=loader)])
    (found,) = rules.same_batches(same)
    assert (found.code, found.severity, found.line) == ("NBG952", "warning", 7)
    assert "sum 3 and sum of squares 9 on all 2 ranks" in found.evidence[0].text
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
    text = merged.to_text()
    assert "2 ranks (torchrun); the tables below are rank 0's\nsame on every rank: steps 2" in text
    assert ("Where the ranks differ:\n  rank  ended\n  0     stopped: another rank ended\n"
            "  1     raised ValueError\n") in text
    html = merged.to_html(figures=False)
    assert "<h4>Where the ranks differ</h4>" in html and "raised ValueError" in html
    gone = merge({0: zero}, 2, silent="no record within 60 s")
    assert gone.run.ranks[1].reported is False and gone.run.ranks[1].note == "no record within 60 s"


def test_without_a_store_the_ranks_share_records_through_a_folder(tmp_path, monkeypatch):
    from nbgrad.distributed.channel import DirChannel, open_channel

    for name in ("NBGRAD_STORE", "TORCHELASTIC_USE_AGENT_STORE"):
        monkeypatch.delenv(name, raising=False)
    assert open_channel(0) is None  # nowhere to share: each rank's report stands alone
    monkeypatch.setenv("NBGRAD_RANKS_DIR", str(tmp_path))
    writer, reader = open_channel(3), open_channel(3)
    assert isinstance(writer, DirChannel) and not reader.has("1/report")
    writer.put("1/report", "{}")
    assert reader.has("1/report") and reader.take("1/report") == "{}"
    assert reader.take("0/report") is None and not open_channel(4).has("1/report")


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
        assert step.param_square_sum == pytest.approx(
            [p.square().sum().item() for p in replay.parameters()], rel=1e-5)
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


def test_a_script_that_does_not_compile_is_said_once_before_any_rank_starts(tmp_path, capsys):
    import psutil

    from nbgrad.cli import main

    script = tmp_path / "train.py"
    script.write_text("import torch\nx = (\n")
    assert main(["check", "--nproc-per-node", "2", str(script)]) == 1
    err = capsys.readouterr().err
    assert err.endswith("SyntaxError: '(' was never closed\n") and err.count("SyntaxError") == 1
    assert f'File "{script}", line 2' in err
    assert psutil.Process().children(recursive=True) == []

