"""The benchmark runs end to end at tiny sizes (CI smoke); no timing is asserted here."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench as module

    yield module
    sys.modules.pop("bench", None)


def test_smoke_run_writes_a_full_table(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--smoke", "--workloads", "mlp,many_small", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["workload"] for r in data["rows"]] == ["mlp", "many_small"]
    first, second = data["rows"]
    for row in data["rows"]:
        assert row["params"] > 0 and row["plain_ms"] > 0
        assert set(row["ratios"]) >= {"nbgrad", "nbgrad_full", "anomaly"}
        assert all(math.isfinite(v) and v > 0 for v in row["ratios"].values())
        assert {"enter_s", "exit_s", "text_s"} <= set(row["fixed"])
    assert set(first["extra_peak_mb"]) == {"plain", "nbgrad"}
    assert second["extra_peak_mb"] == {}  # smoke measures memory of the first workload only
    printed = capsys.readouterr().out
    assert "| mlp " in printed and "| many_small " in printed and "nbgrad x" in printed


def test_workloads_have_the_sizes_the_issue_names(bench):
    assert bench.build("wide_mlp", 1.0).params == pytest.approx(25e6, rel=0.05)
    many = bench.build("many_small", 1.0)
    assert sum(1 for _ in many.model.parameters()) == 402  # 100 x (Linear + LayerNorm) + head
