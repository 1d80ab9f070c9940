"""Runs one cell of one case in this (fresh) process and writes what happened as JSON.

    python worker.py diagnose <case.py> <out.json>        CELL under nbgrad.gradcheck
    python worker.py plain <case.py> CELL|FIX <out.json>  the cell alone, stopped after STEPS steps

score.py starts one process per run so that a cell that crashes the interpreter, leaves global
torch state behind or hangs cannot affect the next case.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from corpus import read
from torch.optim.optimizer import register_optimizer_step_post_hook

SEED = 0
TIMEOUT_S = 60.0


def _seed() -> None:
    torch.manual_seed(SEED)
    random.seed(SEED)
    try:
        import numpy

        numpy.random.seed(SEED)
    except ImportError:
        pass


def _namespace() -> dict[str, Any]:
    return {"__name__": "__main__"}


def diagnose(case_path: Path) -> dict[str, Any]:
    """nbgrad's diagnoses of CELL, the exception the cell raised, and nbgrad's own failure."""
    import nbgrad

    case = read(case_path)
    _seed()
    started = time.perf_counter()
    raised = None
    try:
        report = nbgrad.gradcheck(case.cell, steps=case.steps, namespace=_namespace(),
                                  timeout=TIMEOUT_S)
    except Exception as error:  # the cell's own exception; its report is stored before it propagates
        raised = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        report = nbgrad.last_report()
    elapsed = time.perf_counter() - started
    if report is None:
        return {"raised": raised, "elapsed_s": elapsed, "diagnoses": [], "analysis_error": None,
                "no_report": True}
    return {
        "raised": raised,
        "elapsed_s": elapsed,
        "steps": len(report.run.steps),
        "analysis_error": report.analysis_error,
        "diagnoses": [{"code": d.code, "severity": d.severity, "line": d.line, "title": d.title}
                      for d in report.diagnoses],
    }


class _Stop(BaseException):
    """Ends a plain run after its steps; a BaseException so that `except Exception` lets it pass."""


def plain(case_path: Path, which: str) -> dict[str, Any]:
    """Run CELL or FIX without nbgrad for the case's STEPS optimizer steps, from the fixed seed.

    Records the value of every tensor backward() is called on. The run stops after STEPS optimizer
    steps or, for a loop that never calls an optimizer's step() (hand-written updates, a missing
    step), before backward call STEPS + 1. The case's HELD expression is evaluated afterwards.
    """
    case = read(case_path)
    source = case.cell if which == "CELL" else case.fix
    steps, losses = case.steps, []
    counts = {"steps": 0, "backwards": 0}

    def after_step(optimizer: Any, args: Any, kwargs: Any) -> None:
        counts["steps"] += 1
        if counts["steps"] >= steps:
            raise _Stop

    original = torch.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if counts["steps"] == 0 and counts["backwards"] >= steps:
            raise _Stop
        counts["backwards"] += 1
        if isinstance(tensors, torch.Tensor) and tensors.numel() == 1:
            losses.append(float(tensors.detach().float()))
        return original(tensors, *args, **kwargs)

    hook = register_optimizer_step_post_hook(after_step)
    torch.autograd.backward = backward
    namespace = _namespace()
    _seed()
    raised = None
    try:
        exec(compile(source, f"<{case.id}:{which}>", "exec"), namespace)
    except _Stop:
        pass
    except Exception as error:
        raised = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    finally:
        hook.remove()
        torch.autograd.backward = original
    held = None
    if case.held and raised is None:
        try:
            with torch.no_grad():
                held = float(eval(case.held, namespace))
        except Exception as error:
            raised = f"HELD failed: {type(error).__name__}: {error}"
    return {"raised": raised, "losses": losses, "steps": counts["steps"],
            "backwards": counts["backwards"], "held": held,
            "finite": all(math.isfinite(v) for v in losses) and (held is None or math.isfinite(held))}


def main(argv: list[str]) -> int:
    mode, case_path, out = argv[0], Path(argv[1]), Path(argv[-1])
    torch.set_num_threads(1)
    try:
        result = diagnose(case_path) if mode == "diagnose" else plain(case_path, argv[2])
    except BaseException:
        result = {"worker_error": traceback.format_exc(limit=6)}
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
