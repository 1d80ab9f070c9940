"""How long the report takes to appear after the last step: text, figures, dashboard, bundle.

Targets (issue 4): the whole display (widget + static HTML + text) within 1 s of the last step for a
50-layer model and 10 steps; the text report within 50 ms. Run:
    OMP_NUM_THREADS=1 python benchmarks/render_speed.py
The first ("cold") build includes importing matplotlib and ipywidgets in a fresh process.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import nbgrad
from nbgrad.report import Report

LAYERS, STEPS = 50, 10


def record() -> Report:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(32, 32), nn.ReLU()) for _ in range(LAYERS - 1)],
                          nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 32), torch.randn(64, 1)

    def train() -> None:
        for _ in range(1000):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

    return nbgrad.gradcheck(train, steps=STEPS)


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float, float]:
    """(first call wall, median wall, median CPU) in ms of `repeat` calls after the first.

    On a shared machine the wall time includes waiting for a core; the CPU time of this
    single-threaded work is what it costs on an idle one.
    """
    start = time.perf_counter()
    fn()
    first = (time.perf_counter() - start) * 1000
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return first, statistics.median(wall), statistics.median(cpu)


def main() -> None:
    report = record()
    assert len(report.run.layers) == LAYERS and len(report.run.steps) == STEPS
    from nbgrad.render.bundle import mimebundle
    from nbgrad.render.figures import FigureSet, grad_bars, grad_heatmap, loss_curve, png
    from nbgrad.render.widget import Dashboard

    rows = [
        ("text report", lambda: report.to_text()),
        ("whole bundle: widget + HTML + text", lambda: mimebundle(report, widget=True)),
        ("  heat map PNG", lambda: png(grad_heatmap(report.run))),
        ("  bars PNG (one step)", lambda: png(grad_bars(report.run, -1))),
        ("  loss PNG", lambda: png(loss_curve(report.run))),
        ("  static HTML with figures", lambda: report.to_html()),
        ("  dashboard widgets (figures drawn)", lambda: Dashboard(report, FigureSet(report.run))),
        ("slider: bars of another step", lambda: png(grad_bars(report.run, 3))),
    ]
    print(f"{LAYERS} layers, {STEPS} steps, torch threads {torch.get_num_threads()}")
    print(f"{'':40s} {'first ms':>9s} {'median ms':>10s} {'CPU ms':>8s}")
    for name, fn in rows:
        first, median, cpu = timed(fn)
        print(f"{name:40s} {first:9.1f} {median:10.1f} {cpu:8.1f}")
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()), f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
