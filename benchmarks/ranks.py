"""What the cross-rank checks cost per training step, against the same loop without them.

    python benchmarks/ranks.py                  # both parts (a few minutes on 2 cores)
    python benchmarks/ranks.py --part local     # in this process only
    python benchmarks/ranks.py --json out.json  # also write every number

Only one cross-rank check does work at every step: the checksums of the parameters after the step
and of the gradients at it (capture/ranks.py), for the drift check. The others read what a check
records anyway (the batch fingerprint, the gradients, the BatchNorm calls) or happen once, after
the run (the DDP wrappers, the loaders, each rank's end); the watch on the other ranks polls the
store every 0.2 s in a thread of its own, not per step.

Part "local": in this process, modes interleaved round by round (bench.py's method): the plain
loop, nbgrad at its defaults, and nbgrad with the checksum hook installed as a rank installs it.
Part "torchrun": two CPU ranks (gloo) under torch.distributed.run training a DDP model: plain,
nbgrad with the cross-rank part turned off, and nbgrad as a rank runs it (checksums, the watch,
the records shared and merged at the end, which is outside the steps timed). Ratios are medians
of per-round medians against plain in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # the workloads and the step timer of benchmarks/bench.py

import nbgrad
from nbgrad.capture.ranks import RankProbe

torch.set_num_threads(1)

LOCAL_WORKLOADS = ["mlp", "cnn", "transformer", "many_small", "wide_mlp"]
TORCHRUN_WORKLOADS = ["mlp", "cnn", "many_small"]


HOOK_TIMES: list[float] = []  # seconds spent in the checksum hook, one entry per step


@contextlib.contextmanager
def with_checksums(steps: int) -> Iterator[None]:
    """nbgrad at its defaults plus the per-step checksums, installed as RankRun installs them;
    the hook's own time is noted too (a direct measure, less exposed to a noisy machine)."""
    check = nbgrad.capture(steps=steps + 1, namespace={})
    with check:
        assert check._check is not None
        probe = RankProbe(check._check.recorder)
        hook = probe._on_post

        def timed(*args: Any) -> None:
            started = time.perf_counter()
            hook(*args)
            HOOK_TIMES.append(time.perf_counter() - started)

        probe._on_post = timed  # type: ignore[method-assign]
        probe.install()
        try:
            yield
        finally:
            probe.remove()


def local(scale: float, steps: int, rounds: int) -> list[dict[str, Any]]:
    modes: dict[str, Callable[[int], contextlib.AbstractContextManager[None]]] = {
        "plain": bench.plain, "nbgrad": bench.nbgrad_default, "nbgrad_checksums": with_checksums}
    rows = []
    for name in LOCAL_WORKLOADS:
        w = bench.build(name, scale)
        bench.run_steps(w, 2, bench.plain)
        medians: dict[str, list[float]] = {m: [] for m in modes}
        HOOK_TIMES.clear()
        for _ in range(rounds):
            for m, mode in modes.items():
                medians[m].append(statistics.median(bench.run_steps(w, steps, mode)[1:]))
        med = {m: statistics.median(v) for m, v in medians.items()}
        hook = statistics.median(HOOK_TIMES)
        rows.append({"workload": name, "params": w.params, "plain_ms": med["plain"] * 1e3,
                     "nbgrad_x": med["nbgrad"] / med["plain"],
                     "nbgrad_checksums_x": med["nbgrad_checksums"] / med["plain"],
                     "checksums_vs_nbgrad_x": med["nbgrad_checksums"] / med["nbgrad"],
                     "hook_ms": hook * 1e3, "hook_per_plain_step": hook / med["plain"]})
    return rows


# -- part "torchrun": this file again, in each rank -------------------------------------------
@contextlib.contextmanager
def without_ranks(steps: int) -> Iterator[None]:
    """nbgrad as in one process: the cross-rank part left out."""
    from nbgrad import api

    saved = api.rank_run
    api.rank_run = lambda check: None  # type: ignore[assignment]
    try:
        with nbgrad.capture(steps=steps + 1, namespace={}):
            yield
    finally:
        api.rank_run = saved


@contextlib.contextmanager
def with_ranks(steps: int) -> Iterator[None]:
    with nbgrad.capture(steps=steps + 1, namespace={}):
        yield


def rank_worker(scale: float, steps: int, rounds: int) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo")
    modes = {"plain": bench.plain, "nbgrad_no_ranks": without_ranks, "nbgrad_ranks": with_ranks}
    rows = []
    for name in TORCHRUN_WORKLOADS:
        w = bench.build(name, scale)
        w.model = DistributedDataParallel(w.model)
        torch.manual_seed(1 + dist.get_rank())  # each rank its own batches
        bench.run_steps(w, 2, bench.plain)
        medians: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for m, mode in modes.items():
                medians[m].append(statistics.median(bench.run_steps(w, steps, mode)[1:]))
        med = {m: statistics.median(v) for m, v in medians.items()}
        rows.append({"workload": name, "params": w.params, "plain_ms": med["plain"] * 1e3,
                     "nbgrad_no_ranks_x": med["nbgrad_no_ranks"] / med["plain"],
                     "nbgrad_ranks_x": med["nbgrad_ranks"] / med["plain"],
                     "ranks_vs_no_ranks_x": med["nbgrad_ranks"] / med["nbgrad_no_ranks"]})
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(rows), flush=True)
    dist.destroy_process_group()


def torchrun(scale: float, steps: int, rounds: int) -> list[dict[str, Any]]:
    from nbgrad.distributed.launch import free_port

    env = {**os.environ, "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo"),
           "PYTHONPATH": os.pathsep.join([str(Path(nbgrad.__file__).resolve().parent.parent),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
         "127.0.0.1", "--master-port", str(free_port()), __file__, "--worker", "--scale",
         str(scale), "--steps", str(steps), "--rounds", str(rounds)],
        env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])  # type: ignore[no-any-return]


def _table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    shown = [[f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(s[i]) for s in shown)) for i, k in enumerate(keys)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(keys), *map(line, shown)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["local", "torchrun", "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        rank_worker(args.scale, args.steps, args.rounds)
        return
    print(f"nbgrad {nbgrad.__version__}, torch {torch.__version__}, 1 thread per process, "
          f"{os.cpu_count()} cores; {args.steps} steps x {args.rounds} rounds, scale {args.scale}")
    out: dict[str, Any] = {}
    if args.part in ("local", "both"):
        out["local"] = local(args.scale, args.steps, args.rounds)
        print("in one process: the checksum hook\n" + _table(out["local"]))
    if args.part in ("torchrun", "both"):
        out["torchrun"] = torchrun(args.scale, args.steps, args.rounds)
        print("two gloo ranks, DDP (rank 0's timings): the whole cross-rank part\n"
              + _table(out["torchrun"]))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
