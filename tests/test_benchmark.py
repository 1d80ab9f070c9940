"""The benchmark runs end to end at tiny sizes (CI smoke); no timing is asserted here."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench as module

    yield module
    sys.modules.pop("bench", None)


def test_smoke_run_writes_the_cpu_table_and_marks_every_target(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--smoke", "--device", "cpu", "--workloads", "gpt2_like,mlp",
                       "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    rows = data["cpu"]["rows"]
    assert [r["workload"] for r in rows] == ["gpt2_like", "mlp"]
    first, second = rows
    for row in rows:
        assert row["params"] > 0 and row["plain_ms"] > 0 and row["param_mb"] > 0
        assert set(row["ratios"]) >= {"nbgrad", "nbgrad_full", "anomaly"}
        assert all(math.isfinite(v) and v > 0 for v in row["ratios"].values())
        assert {"enter_s", "exit_s", "text_s"} <= set(row["fixed"])
    assert set(first["extra_peak_mb"]) == {"plain", "nbgrad", "nbgrad_measuring"}
    assert second["extra_peak_mb"] == {}  # smoke measures memory of the first workload only
    targets = {t["what"]: t for t in data["cpu"]["targets"]}
    assert targets["nbgrad per step on mlp"]["limit"] == 1.3
    memory = targets[next(w for w in targets
                          if w.startswith("extra peak memory of the measuring on gpt2_like"))]
    peaks = first["extra_peak_mb"]
    want = max(peaks["nbgrad_measuring"] - peaks["plain"], 0) / first["param_mb"]
    assert memory["value"] == pytest.approx(want) and memory["limit"] == 1.0
    printed = capsys.readouterr().out
    assert "| gpt2_like " in printed and "| mlp " in printed and "nbgrad x" in printed
    lines = printed.split("targets (CPU):\n")[1].strip().splitlines()
    assert len(lines) == len(targets) and all(line.endswith(("met", "MISSED")) for line in lines)


def test_a_target_is_met_at_its_limit_and_missed_above_it(bench):
    assert bench.Target("x", 1.05, 1.05).met and not bench.Target("x", 1.05, 1.0501).met
    assert bench.Target("x", 1.0, None).met is None
    assert bench.Target("syncs", 0, 2.0, unit="").line().endswith("2.000  MISSED")


def test_workloads_have_the_sizes_the_issue_names(bench):
    assert bench.build("wide_mlp", 1.0).params == pytest.approx(25e6, rel=0.05)
    many = bench.build("many_small", 1.0)
    assert sum(1 for _ in many.model.parameters()) == 402  # 100 x (Linear + LayerNorm) + head
    gpt = bench.build("gpt2_like", 1.0)
    x, y = gpt.batch()
    logits = gpt.model(x)
    assert logits.shape == (*x.shape, 50257) and y.shape == x.shape
    assert logits.numel() * 4 > 5 * gpt.param_bytes  # the logits, not the model, are large
    assert sum(p.numel() for p in bench.ResNet18().parameters()) == pytest.approx(11.69e6, rel=0.01)


def test_the_gpu_table_code_runs_at_tiny_sizes_on_the_cpu(bench, capsys):
    pytest.importorskip("transformers")
    rows = bench.device_rows(torch.device("cpu"), list(bench.DEVICE_WORKLOADS), scale=0.05,
                             rounds=1, timed=2)
    assert [r.workload for r in rows] == ["gpt2_small", "resnet18", "mlp", "many_small"]
    for row in rows:
        assert {"nbgrad", "nbgrad_full", "anomaly", "item_norms"} <= set(row.ratios)
        assert row.whole_run["nbgrad"] > 0 and row.syncs == {m: 0 for m in row.syncs}
    targets = bench.device_targets(rows)
    assert [t.what for t in targets if "item()" in t.what] == [
        f"nbgrad / per-parameter .item() loop on {r.workload}" for r in rows]
    table = bench.device_table(rows)
    assert table.count("\n") == len(rows) and "whole run nbgrad x" in table
