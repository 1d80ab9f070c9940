"""What nbgrad costs per training step, side by side with the same loop uninstrumented and with the
tools people use instead.

    python benchmarks/bench.py                 # the CPU table, and the GPU table when CUDA is there
    python benchmarks/bench.py --device cuda   # the GPU table only
    python benchmarks/bench.py --smoke         # tiny sizes, seconds; what CI runs
    python benchmarks/bench.py --json out.json # also write every number

CPU table: per workload and mode the loop runs in this one process, modes interleaved round by
round so that noise from a shared machine hits them alike; each figure is the median over rounds of
the median step time. Ratios are against the plain loop measured in the same rounds. Extra peak
memory is measured in a fresh subprocess per (workload, mode), as peak RSS minus RSS after two plain
warm-up steps; nbgrad runs there without a snapshot (nothing to restore), so the figure is what the
steps, copies and probe windows add.

GPU table: the same interleaving; steps 3-12 of 12 timed between two `torch.cuda.synchronize()`
calls, the whole 12-step run (enter and exit included) timed too; peak memory per step from
`torch.cuda.max_memory_allocated` in a separate pass; host syncs counted with
`torch.cuda.set_sync_debug_mode("warn")` over the timed steps. Peers: anomaly mode, a loop that
calls `.item()` on every parameter's gradient norm, TensorBoard `add_histogram` of every parameter
(when installed).

Every target is printed below its table, marked met or missed.
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
import tempfile
import time
import warnings
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
    param_bytes: int = 0
    optimizer: Callable[[Any], torch.optim.Optimizer] = lambda p: torch.optim.Adam(p, lr=1e-4)
    autocast: torch.dtype | None = None


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


VOCAB = 50257  # GPT-2's: the logits, not the model, are what is large


class TinyGPT(nn.Module):
    """A GPT-2-shaped language model (token and position embeddings, pre-norm causal blocks, a head
    tied to the token embedding), small enough for a CPU but with GPT-2's 50k vocabulary."""

    def __init__(self, d: int, layers: int, seq: int, vocab: int = VOCAB) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(seq, d)
        block = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=4 * d, batch_first=True,
                                           dropout=0.0, norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.positions.weight[: ids.shape[1]]
        x = self.blocks(x, mask=self.mask[: ids.shape[1], : ids.shape[1]], is_causal=True)
        return self.norm(x) @ self.tokens.weight.t()


def _next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _gpt2_like(scale: float) -> Workload:
    d = max(16, int(64 * scale)) // 4 * 4
    seq, batch = max(8, int(64 * scale)), max(2, int(8 * scale))

    def data() -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.randint(0, VOCAB, (batch, seq + 1))
        return ids[:, :-1], ids[:, 1:]

    return Workload("gpt2_like", TinyGPT(d, 2, seq), data, _next_token_loss)


WORKLOADS: dict[str, Callable[[float], Workload]] = {
    "mlp": _mlp, "cnn": _cnn, "transformer": _transformer, "many_small": _many_small,
    "wide_mlp": _wide, "gpt2_like": _gpt2_like,
}


def build(name: str, scale: float, registry: dict[str, Callable[[float], Workload]] | None = None
          ) -> Workload:
    torch.manual_seed(0)
    w = (registry or WORKLOADS)[name](scale)
    w.params = sum(p.numel() for p in w.model.parameters())
    w.param_bytes = sum(p.numel() * p.element_size() for p in w.model.parameters())
    return w


# -- modes -----------------------------------------------------------------------------------
Mode = Callable[[int, nn.Module], contextlib.AbstractContextManager[Any]]


@contextlib.contextmanager
def plain(steps: int, model: nn.Module) -> Iterator[None]:
    yield


@contextlib.contextmanager
def nbgrad_default(steps: int, model: nn.Module) -> Iterator[None]:
    with nbgrad.capture(steps=steps + 1, namespace={}):
        yield


@contextlib.contextmanager
def nbgrad_full(steps: int, model: nn.Module) -> Iterator[None]:
    with nbgrad.capture(steps=steps + 1, namespace={}, activations=True):
        yield


@contextlib.contextmanager
def anomaly(steps: int, model: nn.Module) -> Iterator[None]:
    with torch.autograd.set_detect_anomaly(True):
        yield


@contextlib.contextmanager
def nbgrad_measuring(steps: int, model: nn.Module) -> Iterator[None]:
    """nbgrad without its restore copy (keep=True): what the measuring alone adds. The restore
    copy is host memory the report states (its size and time), the same with or without a GPU."""
    with nbgrad.capture(steps=steps + 1, namespace={}, keep=True):
        yield


MODES: dict[str, Mode] = {
    "plain": plain, "nbgrad": nbgrad_default, "nbgrad_full": nbgrad_full, "anomaly": anomaly,
}
MEMORY_MODES = ("plain", "nbgrad", "nbgrad_measuring")  # the last one only in the memory runs
ALL_MODES: dict[str, Mode] = {**MODES, "nbgrad_measuring": nbgrad_measuring}


def wandb_mode() -> Mode | None:
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

    return watch


class AfterBackward:
    """A peer that runs its own code between backward() and step(): `after(model)` each step."""

    def __init__(self, after: Callable[[nn.Module], None],
                 around: Callable[[], contextlib.AbstractContextManager[Any]] | None = None) -> None:
        self.after = after
        self.around = around

    @contextlib.contextmanager
    def __call__(self, steps: int, model: nn.Module) -> Iterator[None]:
        with self.around() if self.around is not None else contextlib.nullcontext():
            yield


def item_norms() -> AfterBackward:
    """The hand-written check: every parameter's gradient norm pulled to Python each step."""
    def after(model: nn.Module) -> None:
        for p in model.parameters():
            if p.grad is not None:
                p.grad.norm().item()
    return AfterBackward(after)


def tensorboard_mode() -> AfterBackward | None:
    """TensorBoard's add_histogram of every parameter and gradient each step, when installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    state: dict[str, Any] = {"step": 0}

    @contextlib.contextmanager
    def writer() -> Iterator[None]:
        with tempfile.TemporaryDirectory() as folder:
            state["writer"] = SummaryWriter(folder)
            try:
                yield
            finally:
                state["writer"].close()

    def after(model: nn.Module) -> None:
        state["step"] += 1
        for name, p in model.named_parameters():
            state["writer"].add_histogram(name, p, state["step"])
            if p.grad is not None:
                state["writer"].add_histogram(name + ".grad", p.grad, state["step"])

    return AfterBackward(after, writer)


# -- measuring -------------------------------------------------------------------------------
def _ctx(mode: Any, steps: int, model: nn.Module) -> contextlib.AbstractContextManager[Any]:
    return mode(steps, model)


def _step(w: Workload, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
          mode: Any) -> None:
    opt.zero_grad()
    if w.autocast is not None:
        with torch.autocast(x.device.type, dtype=w.autocast):
            loss = w.loss(w.model(x), y)
    else:
        loss = w.loss(w.model(x), y)
    loss.backward()
    if isinstance(mode, AfterBackward):
        mode.after(w.model)
    opt.step()


def run_steps(w: Workload, steps: int, mode: Any) -> list[float]:
    """Per-step seconds of `steps` optimizer steps under `mode` (data made before timing)."""
    opt = w.optimizer(w.model.parameters())
    batches = [w.batch() for _ in range(steps)]
    times: list[float] = []
    with _ctx(mode, steps, w.model):
        for x, y in batches:
            t0 = time.perf_counter()
            _step(w, opt, x, y, mode)
            times.append(time.perf_counter() - t0)
    return times


def fixed_costs(w: Workload, steps: int) -> dict[str, float]:
    """Seconds before the first step (install), after the last (records, diagnosis, restore),
    and to build the text report and the dashboard from it."""
    opt = w.optimizer(w.model.parameters())
    batches = [w.batch() for _ in range(steps)]
    t0 = time.perf_counter()
    check = nbgrad.capture(steps=steps + 1, namespace={"model": w.model, "opt": opt})
    check.__enter__()
    t1 = time.perf_counter()
    try:
        for x, y in batches:
            _step(w, opt, x, y, plain)
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
    param_mb: float = 0.0
    ratios: dict[str, float | None] = field(default_factory=dict)
    extra_peak_mb: dict[str, float | None] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    syncs: dict[str, int] = field(default_factory=dict)
    whole_run: dict[str, float] = field(default_factory=dict)


def measure(name: str, scale: float, steps: int, rounds: int, modes: dict[str, Any]) -> Row:
    w = build(name, scale)
    run_steps(w, 2, plain)  # warm-up: allocator, kernels, lazy init
    per_mode: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(rounds):
        for m, mode in modes.items():
            times = run_steps(w, steps, mode)[1:]  # the first step of a round pays warm-up
            per_mode[m].append(statistics.median(times))
    med = {m: statistics.median(v) for m, v in per_mode.items()}
    row = Row(name, w.params, med["plain"] * 1e3, w.param_bytes / 2**20)
    row.ratios = {m: med[m] / med["plain"] for m in modes if m != "plain"}
    row.fixed = fixed_costs(w, steps)
    return row


def peak_memory(name: str, scale: float, steps: int, mode: str) -> float:
    """Extra peak RSS (MB) of `steps` steps under `mode`, in a fresh subprocess: the high-water
    mark of resident memory (VmHWM, reset after the warm-up where the kernel allows it) minus the
    resident memory after the warm-up. Not getrusage's ru_maxrss: a child started from a large
    process inherits the parent's resident size there, which would hide what the steps add."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import gc, sys; sys.path.insert(0, {here!r}); import bench;"
        f"w = bench.build({name!r}, {scale!r}); bench.run_steps(w, 2, bench.plain);"
        "gc.collect(); base = bench.status_mb('VmRSS'); bench.reset_peak();"
        f"bench.run_steps(w, {steps}, bench.ALL_MODES[{mode!r}]);"
        "print(bench.status_mb('VmHWM') - base)"
    )
    # a fixed mmap threshold: glibc returns every large block when it is freed, so that resident
    # memory follows what is allocated instead of what malloc chose to keep (else +-40 MB)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    return float(out.stdout.strip().splitlines()[-1])


def status_mb(key: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak() -> None:
    """Start VmHWM afresh (Linux 4.0+; where that is refused the peak includes the warm-up)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


# -- targets ---------------------------------------------------------------------------------
@dataclass
class Target:
    what: str
    limit: float
    value: float | None
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    def line(self) -> str:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[self.met]
        value = "n/a" if self.value is None else f"{self.value:.3f}{self.unit}"
        return f"  {self.what} <= {self.limit:g}{self.unit}: {value}  {verdict}"


def cpu_targets(rows: list[Row]) -> list[Target]:
    found = {r.workload: r for r in rows}
    out = []
    for name, limit in (("cnn", 1.05), ("transformer", 1.05), ("mlp", 1.3), ("many_small", 1.3)):
        if name in found:
            out.append(Target(f"nbgrad per step on {name}", limit, found[name].ratios.get("nbgrad")))
    for name in ("cnn", "transformer"):
        if name in found:
            out.append(Target(f"activations=True per step on {name}", 1.25,
                              found[name].ratios.get("nbgrad_full")))
    for r in rows:
        extra = r.extra_peak_mb
        if extra.get("nbgrad_measuring") is not None and extra.get("plain") is not None:
            out.append(Target(f"extra peak memory of the measuring on {r.workload}, in parameter "
                              f"bytes ({r.param_mb:.1f} MB)", 1.0,
                              max(extra["nbgrad_measuring"] - extra["plain"], 0.0) / r.param_mb,  # type: ignore[operator]
                              unit="x"))
    texts = [r.fixed["text_s"] for r in rows if "text_s" in r.fixed]
    if texts:
        out.append(Target("text report, worst", 50, max(texts) * 1e3, unit=" ms"))
    boards = [r.fixed["dashboard_s"] for r in rows if "dashboard_s" in r.fixed]
    if boards:
        out.append(Target("dashboard, worst", 1000, max(boards) * 1e3, unit=" ms"))
    return out


# -- output ----------------------------------------------------------------------------------
def _cells(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("| " + " | ".join(c.ljust(wd) for c, wd in zip(line, widths)) + " |"
                     for line in lines)


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row], modes: list[str]) -> str:
    ratio_modes = [m for m in modes if m != "plain"]
    head = ["workload", "params", "plain ms/step", *[f"{m} x" for m in ratio_modes],
            *[f"+MB {m}" for m in MEMORY_MODES], "enter ms", "exit ms", "text ms",
            "dashboard ms"]
    lines = [head]
    for r in rows:
        def ms(key: str, r: Row = r) -> str:
            return f"{r.fixed[key] * 1e3:.1f}" if key in r.fixed else "n/a"
        lines.append([
            r.workload, f"{r.params / 1e6:.2f}M", f"{r.plain_ms:.2f}",
            *[_num(r.ratios.get(m)) for m in ratio_modes],
            *[_num(r.extra_peak_mb.get(m), 1) for m in MEMORY_MODES],
            ms("enter_s"), ms("exit_s"), ms("text_s"), ms("dashboard_s"),
        ])
    return _cells(lines)


def cpu_main(args: argparse.Namespace, scale: float, steps: int, rounds: int) -> dict[str, Any]:
    modes: dict[str, Any] = dict(MODES)
    watch = wandb_mode()
    if watch is not None:
        modes["wandb"] = watch
    rows = []
    names = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        row = measure(name, scale, steps, rounds, modes)
        if not args.no_memory and not (args.smoke and rows):  # smoke: memory of the first only
            row.extra_peak_mb = {m: peak_memory(name, scale, steps, m) for m in MEMORY_MODES}
        rows.append(row)
    print(f"CPU: nbgrad {nbgrad.__version__}, torch {torch.__version__}, 1 thread, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{steps} steps x {rounds} rounds, scale {scale}")
    print(table(rows, list(modes)))
    targets = cpu_targets(rows)
    print("targets (CPU):")
    print("\n".join(t.line() for t in targets))
    return {"rows": [asdict(r) for r in rows], "targets": [asdict(t) for t in targets]}


# -- the GPU table ---------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016) as torchvision defines it: 2 basic blocks per stage."""

    def __init__(self, classes: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], width
        for stage, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2 ** stage
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)).mean(dim=(2, 3)))


def _gpt2_small(scale: float, device: torch.device) -> Workload:
    from transformers import GPT2Config, GPT2LMHeadModel

    full = scale >= 1
    config = GPT2Config(n_layer=12 if full else 2, n_embd=768 if full else 64,
                        n_head=12 if full else 4, n_positions=1024)  # vocabulary 50257
    model = GPT2LMHeadModel(config).to(device)
    batch, seq = (8, 1024) if full else (2, 32)

    def data() -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.randint(0, config.vocab_size, (batch, seq + 1), device=device)
        return ids[:, :-1], ids[:, 1:]

    def loss(out: Any, targets: torch.Tensor) -> torch.Tensor:
        return _next_token_loss(out.logits, targets)

    low = torch.bfloat16 if device.type == "cuda" else None
    return Workload("gpt2_small", model, data, loss, autocast=low,
                    optimizer=lambda p: torch.optim.AdamW(p, lr=1e-4))


def _resnet18(scale: float, device: torch.device) -> Workload:
    full = scale >= 1
    model = ResNet18(width=64 if full else 8).to(device)
    batch, size = (128, 64) if full else (4, 32)
    return Workload("resnet18", model,
                    lambda: (torch.randn(batch, 3, size, size, device=device),
                             torch.randint(0, 1000, (batch,), device=device)),
                    nn.functional.cross_entropy,
                    optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))


def _gpu_mlp(scale: float, device: torch.device) -> Workload:
    w = _mlp(1.0)
    w.model.to(device)
    w.batch = lambda: (torch.randn(64, 128, device=device), torch.randint(0, 10, (64,), device=device))
    return w


def _gpu_many_small(scale: float, device: torch.device) -> Workload:
    w = _many_small(1.0)
    w.model.to(device)
    w.batch = lambda: (torch.randn(16, 32, device=device), torch.randn(16, 1, device=device))
    return w


DEVICE_WORKLOADS: dict[str, Callable[[float, torch.device], Workload]] = {
    "gpt2_small": _gpt2_small, "resnet18": _resnet18, "mlp": _gpu_mlp, "many_small": _gpu_many_small,
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _count_syncs(device: torch.device, into: list[int]) -> Iterator[None]:
    """Host syncs seen by CUDA's sync debug mode (each one is a warning)."""
    if device.type != "cuda":
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode("default")
    into.append(sum("synchroniz" in str(w.message) for w in caught))


def device_round(w: Workload, device: torch.device, mode: Any, timed: int, warm: int = 2
                 ) -> tuple[float, int]:
    """(seconds per step over the timed steps, host syncs in them). nbgrad is asked for one step
    more than run, so its first probe window falls in the warm-up and no stop in the timing."""
    opt = w.optimizer(w.model.parameters())
    batches = [w.batch() for _ in range(warm + timed)]
    syncs: list[int] = []
    with _ctx(mode, warm + timed, w.model):
        for x, y in batches[:warm]:
            _step(w, opt, x, y, mode)
        _sync(device)
        t0 = time.perf_counter()
        with _count_syncs(device, syncs):
            for x, y in batches[warm:]:
                _step(w, opt, x, y, mode)
            _sync(device)
        t1 = time.perf_counter()
    return (t1 - t0) / timed, (syncs[0] if syncs else 0)


def whole_run(w: Workload, device: torch.device, steps: int, check: bool) -> float:
    """Seconds of a whole check of `steps` steps as a user runs it (snapshot, both probe windows,
    the stop, records, diagnosis, restore), or of the same loop without nbgrad."""
    opt = w.optimizer(w.model.parameters())
    batches = [w.batch() for _ in range(steps + 1)]

    def loop() -> None:
        for x, y in batches:
            _step(w, opt, x, y, plain)

    _sync(device)
    start = time.perf_counter()
    if check:
        nbgrad.gradcheck(loop, steps=steps, namespace={"model": w.model, "opt": opt},
                         timeout=None)
    else:
        for x, y in batches[:steps]:
            _step(w, opt, x, y, plain)
    _sync(device)
    return time.perf_counter() - start


def device_peaks(w: Workload, device: torch.device, mode: Any, steps: int) -> list[float]:
    """Peak allocated bytes of each step (CUDA only)."""
    if device.type != "cuda":
        return []
    opt = w.optimizer(w.model.parameters())
    batches = [w.batch() for _ in range(steps)]
    peaks = []
    with _ctx(mode, steps, w.model):
        for x, y in batches:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            _step(w, opt, x, y, mode)
            torch.cuda.synchronize(device)
            peaks.append(float(torch.cuda.max_memory_allocated(device)))
    return peaks


def device_modes() -> dict[str, Any]:
    modes: dict[str, Any] = {"plain": plain, "nbgrad": nbgrad_default,
                             "nbgrad_full": nbgrad_full, "anomaly": anomaly,
                             "item_norms": item_norms()}
    board = tensorboard_mode()
    if board is not None:
        modes["tensorboard"] = board
    return modes


def device_rows(device: torch.device, names: list[str], scale: float, rounds: int,
                timed: int = 10) -> list[Row]:
    modes = device_modes()
    rows = []
    for name in names:
        print(f"measuring {name} on {device} ...", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        w = DEVICE_WORKLOADS[name](scale, device)
        w.params = sum(p.numel() for p in w.model.parameters())
        w.param_bytes = sum(p.numel() * p.element_size() for p in w.model.parameters())
        device_round(w, device, plain, 1, warm=1)
        step_s: dict[str, list[float]] = {m: [] for m in modes}
        whole_s: dict[bool, list[float]] = {False: [], True: []}
        syncs: dict[str, int] = {}
        for _ in range(rounds):
            for m, mode in modes.items():
                per_step, syncs[m] = device_round(w, device, mode, timed)
                step_s[m].append(per_step)
            for check in (False, True):
                whole_s[check].append(whole_run(w, device, timed, check))
        med = {m: statistics.median(v) for m, v in step_s.items()}
        row = Row(name, w.params, med["plain"] * 1e3, w.param_bytes / 2**20)
        row.ratios = {m: med[m] / med["plain"] for m in modes if m != "plain"}
        row.whole_run = {"nbgrad": statistics.median(whole_s[True]) / statistics.median(whole_s[False])}
        row.syncs = syncs
        peaks = {m: device_peaks(w, device, modes[m], 2 + timed) for m in ("plain", "nbgrad")}
        if peaks["plain"]:
            extra = max(a - b for a, b in zip(peaks["nbgrad"], peaks["plain"]))
            row.extra_peak_mb = {"plain": 0.0, "nbgrad": max(extra, 0.0) / 2**20}
        rows.append(row)
    return rows


def device_table(rows: list[Row]) -> str:
    modes = list(rows[0].ratios) if rows else []
    head = ["workload", "params", "plain ms/step", *[f"{m} x" for m in modes],
            "whole run nbgrad x", "extra peak MB (param MB)", "syncs plain/nbgrad"]
    lines = [head]
    for r in rows:
        lines.append([r.workload, f"{r.params / 1e6:.2f}M", f"{r.plain_ms:.2f}",
                      *[_num(r.ratios.get(m)) for m in modes], _num(r.whole_run.get("nbgrad")),
                      f"{_num(r.extra_peak_mb.get('nbgrad'), 1)} ({r.param_mb:.1f})",
                      f"{r.syncs.get('plain', 'n/a')}/{r.syncs.get('nbgrad', 'n/a')}"])
    return _cells(lines)


def device_targets(rows: list[Row]) -> list[Target]:
    found = {r.workload: r for r in rows}
    out = []
    for name, limit in (("gpt2_small", 1.05), ("resnet18", 1.05), ("mlp", 1.3)):
        if name in found:
            out.append(Target(f"nbgrad per step on {name}", limit, found[name].ratios.get("nbgrad")))
    if "gpt2_small" in found:
        gpt = found["gpt2_small"]
        out.append(Target("nbgrad whole run on gpt2_small", 1.15, gpt.whole_run.get("nbgrad")))
        out.append(Target("activations=True per step on gpt2_small", 1.25,
                          gpt.ratios.get("nbgrad_full")))
    for r in rows:
        peer = r.ratios.get("item_norms")
        ours = r.ratios.get("nbgrad")
        out.append(Target(f"nbgrad / per-parameter .item() loop on {r.workload}", 1.0,
                          None if peer is None or ours is None else ours / peer))
        if "nbgrad" in r.extra_peak_mb:
            out.append(Target(f"extra peak memory on {r.workload}, in parameter bytes", 1.0,
                              r.extra_peak_mb["nbgrad"] / r.param_mb))  # type: ignore[operator]
        if "nbgrad" in r.syncs:
            out.append(Target(f"host syncs caused by nbgrad on {r.workload} (10 steps)", 0,
                              float(r.syncs["nbgrad"] - r.syncs.get("plain", 0)), unit=""))
    return out


def device_main(device: torch.device, args: argparse.Namespace, scale: float, rounds: int
                ) -> dict[str, Any]:
    names = [n for n in (args.device_workloads or ",".join(DEVICE_WORKLOADS)).split(",")]
    rows = device_rows(device, names, scale, rounds, timed=3 if args.smoke else 10)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    timed = 3 if args.smoke else 10
    print(f"GPU: {name}, torch {torch.__version__}; steps 3-{timed + 2} of {timed + 2} x {rounds} "
          f"rounds; whole run: {timed} steps; scale {scale}")
    print(device_table(rows))
    targets = device_targets(rows)
    print(f"targets ({device.type}):")
    print("\n".join(t.line() for t in targets))
    return {"rows": [asdict(r) for r in rows], "targets": [asdict(t) for t in targets]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and 1 round (for CI)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="cpu: the CPU table; cuda: the GPU table; auto: both when CUDA is there")
    parser.add_argument("--workloads", default="", help="CPU workloads, comma-separated")
    parser.add_argument("--device-workloads", default="", help="GPU workloads, comma-separated")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--scale", type=float, default=None, help="model size factor (1 = full)")
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess memory runs")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.05 if args.smoke else 1.0)
    steps = args.steps or (3 if args.smoke else 10)
    rounds = args.rounds or (1 if args.smoke else 5)
    out: dict[str, Any] = {"steps": steps, "rounds": rounds, "scale": scale,
                           "torch": torch.__version__}
    if args.device in ("auto", "cpu"):
        out["cpu"] = cpu_main(args, scale, steps, rounds)
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is available here")
        out["cuda"] = device_main(torch.device("cuda"), args, scale, min(rounds, 3))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
