"""One rank of `nbgrad check --nproc-per-node`: the script under a check, its report shared.

torchrun starts this module in each process (`python -m torch.distributed.run ... -m
nbgrad.distributed.worker --steps N SCRIPT ARGS`). The check notices it runs in a rank of a job
(nbgrad/distributed/rank.py) and leaves its report where the launcher reads it. The process ends
with status 0 once it has: the launcher decides the exit status from the merged report, and a
rank that exits early with an error would make torchrun's agent kill the others before theirs
are out. Rank 0 shows the progress; each rank that raised prints its own traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch.distributed as dist

from nbgrad import cli
from nbgrad.distributed.world import current
from nbgrad.report import Report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nbgrad.distributed.worker",
                                     description="One rank of `nbgrad check --nproc-per-node`.")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--activations", action="store_true")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _close_process_group(report: Report) -> None:
    """The script's own `destroy_process_group()` did not run when nbgrad stopped its loop; after a
    normal end no collective is pending, so it is done here (an abnormal end leaves it to exit)."""
    if dist.is_available() and dist.is_initialized() and report.run.stopped_by in ("steps",
                                                                                   "finished"):
        dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    world = current()
    rank = 0 if world is None else world.rank
    path = Path(args.script)
    progress = cli._progress(sys.stderr) if rank == 0 else None
    report, error = cli.run_script(path, args.args, steps=args.steps, timeout=args.timeout,
                                   activations=args.activations, progress=progress)
    if error is not None and not isinstance(error, KeyboardInterrupt):
        print(f"nbgrad: rank {rank} raised:", file=sys.stderr)
        cli._print_user_traceback(error, str(path.resolve()))
    try:
        _close_process_group(report)
    except Exception as failure:  # the report is out already; say it, end normally
        print(f"nbgrad: rank {rank} could not close its process group: {failure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
