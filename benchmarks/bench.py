"""What nbgrad costs per training step, side by side with the same loop uninstrumented.

    python benchmarks/bench.py                 # the full table (a few minutes on 2 cores)
    python benchmarks/bench.py --smoke         # tiny sizes, seconds; what CI runs
    python benchmarks/bench.py --json out.json # also write every number

Per workload and mode the loop runs in this one process, modes interleaved round by round so that
noise from a shared machine hits them alike; each figure is the median over rounds of the median
step time. Ratios are against the plain loop measured in the same rounds. Extra peak memory is
measured in a fresh subprocess per (workload, mode), as peak RSS minus RSS after the warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from torch import nn

import nbgrad

torch.set_num_threads(1)


# -- workloads -------------------------------------------------------------------------------
@dataclass
class Workload:
    name: str
    model: nn.Module
    batch: Callable[[], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    params: int = 0


def _mlp(scale: float) -> Workload:
    width = max(8, int(256 * scale))
    model = nn.Sequential(nn.Linear(128, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, 10))
    return Workload("mlp", model, lambda: (torch.randn(64, 128), torch.randint(0, 10, (64,))),
                    nn.functional.cross_entropy)


def _cnn(scale: float) -> Workload:
    c = max(4, int(32 * scale))
    model = nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(),
        nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(2 * c, 10))
    batch = max(2, int(32 * scale))
    return Workload("cnn", model,
                    lambda: (torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))),
                    nn.functional.cross_entropy)


class _Encoder(nn.Module):
    def __init__(self, d: int, layers: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=4 * d, batch_first=True,
                                           dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)).mean(dim=(1, 2))


def _transformer(scale: float) -> Workload:
    d = max(16, int(256 * scale)) // 4 * 4
    seq, batch = max(4, int(64 * scale)), max(2, int(16 * scale))
    return Workload("transformer", _Encoder(d, 4),
                    lambda: (torch.randn(batch, seq, d), torch.randn(batch)),
                    nn.functional.mse_loss)


def _many_small(scale: float) -> Workload:
    blocks = max(4, int(100 * scale))
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers += [nn.Linear(32, 32), nn.LayerNorm(32)]
    return Workload("many_small", nn.Sequential(*layers, nn.Linear(32, 1)),
                    lambda: (torch.randn(16, 32), torch.randn(16, 1)), nn.functional.mse_loss)


def _wide(scale: float) -> Workload:
    width = max(32, int(4500 * scale))  # 512*w + w^2 + w^2/8 ~ 25M parameters at w=4500
    model = nn.Sequential(nn.Linear(512, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, width // 8), nn.ReLU(), nn.Linear(width // 8, 10))
    return Workload("wide_mlp", model, lambda: (torch.randn(32, 512), torch.randint(0, 10, (32,))),
                    nn.functional.cross_entropy)


WORKLOADS: dict[str, Callable[[float], Workload]] = {
    "mlp": _mlp, "cnn": _cnn, "transformer": _transformer, "many_small": _many_small,
    "wide_mlp": _wide,
}


def build(name: str, scale: float) -> Workload:
    torch.manual_seed(0)
    w = WORKLOADS[name](scale)
    w.params = sum(p.numel() for p in w.model.parameters())
    return w


# -- modes -----------------------------------------------------------------------------------
@contextlib.contextmanager
def plain(steps: int) -> Iterator[None]:
    yield


@contextlib.contextmanager
def nbgrad_default(steps: int) -> Iterator[None]:
    with nbgrad.capture(steps=steps + 1, namespace={}):
        yield


@contextlib.contextmanager
def nbgrad_full(steps: int) -> Iterator[None]:
    with nbgrad.capture(steps=steps + 1, namespace={}, activations=True):
        yield


@contextlib.contextmanager
def anomaly(steps: int) -> Iterator[None]:
    with torch.autograd.set_detect_anomaly(True):
        yield


MODES: dict[str, Callable[[int], contextlib.AbstractContextManager[None]]] = {
    "plain": plain, "nbgrad": nbgrad_default, "nbgrad_full": nbgrad_full, "anomaly": anomaly,
}


def wandb_mode() -> Callable[[int], contextlib.AbstractContextManager[None]] | None:
    """wandb.watch(log='all', log_freq=1) offline, when wandb is installed."""
    try:
        import wandb
    except ImportError:
        return None

    @contextlib.contextmanager
    def watch(steps: int, model: nn.Module) -> Iterator[None]:
        run = wandb.init(mode="offline", project="nbgrad-bench", reinit=True)
        wandb.watch(model, log="all", log_freq=1)
        try:
            yield
        finally:
            wandb.unwatch(model)
            run.finish(quiet=True)

    return watch  # type: ignore[return-value]


# -- measuring -------------------------------------------------------------------------------
def run_steps(w: Workload, steps: int, mode: Callable[..., Any]) -> list[float]:
    """Per-step seconds of `steps` optimizer steps under `mode` (data made before timing)."""
    opt = torch.optim.Adam(w.model.parameters(), lr=1e-4)
    batches = [w.batch() for _ in range(steps)]
    times: list[float] = []
    ctx = mode(steps, w.model) if getattr(mode, "__name__", "") == "watch" else mode(steps)
    with ctx:
        for x, y in batches:
            t0 = time.perf_counter()
            opt.zero_grad()
            w.loss(w.model(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    return times


def fixed_costs(w: Workload, steps: int) -> dict[str, float]:
    """Seconds before the first step (install), after the last (records, diagnosis, restore),
    and to build the text report and the dashboard from it."""
    opt = torch.optim.Adam(w.model.parameters(), lr=1e-4)
    batches = [w.batch() for _ in range(steps)]
    t0 = time.perf_counter()
    check = nbgrad.capture(steps=steps + 1, namespace={"model": w.model, "opt": opt})
    check.__enter__()
    t1 = time.perf_counter()
    try:
        for x, y in batches:
            opt.zero_grad()
            w.loss(w.model(x), y).backward()
            opt.step()
    finally:
        t2 = time.perf_counter()
        check.__exit__(None, None, None)
        t3 = time.perf_counter()
    report = check.report
    assert report is not None
    t4 = time.perf_counter()
    report.to_text()
    t5 = time.perf_counter()
    out = {"enter_s": t1 - t0, "exit_s": t3 - t2, "text_s": t5 - t4}
    try:
        from nbgrad.render import widget
    except ImportError:
        return out
    t6 = time.perf_counter()
    widget.build(report) if hasattr(widget, "build") else widget.Dashboard(report)
    out["dashboard_s"] = time.perf_counter() - t6
    return out


@dataclass
class Row:
    workload: str
    params: int
    plain_ms: float
    ratios: dict[str, float | None] = field(default_factory=dict)
    extra_peak_mb: dict[str, float | None] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)


def measure(name: str, scale: float, steps: int, rounds: int, modes: dict[str, Any]) -> Row:
    w = build(name, scale)
    run_steps(w, 2, plain)  # warm-up: allocator, kernels, lazy init
    per_mode: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(rounds):
        for m, mode in modes.items():
            times = run_steps(w, steps, mode)[1:]  # the first step of a round pays warm-up
            per_mode[m].append(statistics.median(times))
    med = {m: statistics.median(v) for m, v in per_mode.items()}
    row = Row(name, w.params, med["plain"] * 1e3)
    row.ratios = {m: med[m] / med["plain"] for m in modes if m != "plain"}
    row.fixed = fixed_costs(w, steps)
    return row


def peak_memory(name: str, scale: float, steps: int, mode: str) -> float:
    """Extra peak RSS (MB) of `steps` steps under `mode`, in a fresh subprocess."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import resource, sys; sys.path.insert(0, {here!r}); import bench;"
        f"w = bench.build({name!r}, {scale!r}); bench.run_steps(w, 2, bench.plain);"
        "import gc; gc.collect();"
        "base = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() / 2**20;"
        f"bench.run_steps(w, {steps}, bench.MODES[{mode!r}]);"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "print(peak - base)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# -- output ----------------------------------------------------------------------------------
def table(rows: list[Row], modes: list[str]) -> str:
    ratio_modes = [m for m in modes if m != "plain"]
    head = ["workload", "params", "plain ms/step", *[f"{m} x" for m in ratio_modes],
            *[f"+MB {m}" for m in ("plain", "nbgrad")], "enter ms", "exit ms", "text ms",
            "dashboard ms"]
    lines = [head]
    for r in rows:
        def ms(key: str, r: Row = r) -> str:
            return f"{r.fixed[key] * 1e3:.1f}" if key in r.fixed else "n/a"
        lines.append([
            r.workload, f"{r.params / 1e6:.2f}M", f"{r.plain_ms:.2f}",
            *[("n/a" if r.ratios.get(m) is None else f"{r.ratios[m]:.3f}") for m in ratio_modes],
            *[("n/a" if r.extra_peak_mb.get(m) is None else f"{r.extra_peak_mb[m]:.1f}")
              for m in ("plain", "nbgrad")],
            ms("enter_s"), ms("exit_s"), ms("text_s"), ms("dashboard_s"),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("| " + " | ".join(c.ljust(wd) for c, wd in zip(line, widths)) + " |"
                     for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and 1 round (for CI)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--scale", type=float, default=None, help="model size factor (1 = full)")
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess memory runs")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.05 if args.smoke else 1.0)
    steps = args.steps or (3 if args.smoke else 10)
    rounds = args.rounds or (1 if args.smoke else 5)
    modes: dict[str, Any] = dict(MODES)
    watch = wandb_mode()
    if watch is not None:
        modes["wandb"] = watch
    rows = []
    for name in args.workloads.split(","):
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        row = measure(name, scale, steps, rounds, modes)
        if not args.no_memory and not (args.smoke and rows):  # smoke: memory of the first only
            row.extra_peak_mb = {m: peak_memory(name, scale, steps, m) for m in ("plain", "nbgrad")}
        rows.append(row)
    print(f"nbgrad {nbgrad.__version__}, torch {torch.__version__}, 1 thread, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{steps} steps x {rounds} rounds, scale {scale}")
    print(table(rows, list(modes)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"steps": steps, "rounds": rounds, "scale": scale,
                       "torch": torch.__version__, "rows": [asdict(r) for r in rows]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
