"""Run the correct training loops of cases/correct/ through nbgrad and plain, and say what came out.

Each case file holds SOURCE (the public program it was written from), PROGRAM, CELL (a
self-contained training cell on synthetic data) and optionally STEPS (10 when absent). A correct
loop must come out with no warning or error (any is a false alarm) and no analysis error (a crash of
nbgrad's analysis). A case runs in its own subprocess, so that one crash cannot end the batch.

The plain run checks that the loop really trains on its data: the cell runs without nbgrad until
`--plain-steps` updates (optimizer steps, or backward calls in a loop without an optimizer), and the
loss each update saw is recorded by wrapping `torch.autograd.backward`.

    python benchmarks/diagnosis/run_correct.py                 # all cases, a table
    python benchmarks/diagnosis/run_correct.py ex_mnist --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases" / "correct"
PROBLEM_SEVERITIES = ("error", "warning")


@dataclass
class Case:
    id: str
    source: str
    program: str
    cell: str
    steps: int
    summary: str


def load_case(path: Path) -> Case:
    """A case file is data: its top-level names are read without importing the repository."""
    namespace: dict[str, Any] = {"__name__": f"case_{path.stem}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return Case(id=path.stem, source=namespace["SOURCE"], program=namespace["PROGRAM"],
                cell=namespace["CELL"], steps=int(namespace.get("STEPS", 10)),
                summary=(namespace.get("__doc__") or "").strip())


def case_paths(ids: list[str] | None = None) -> list[Path]:
    paths = sorted(CASES.glob("*.py"))
    if ids:
        wanted = set(ids)
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            raise SystemExit(f"no such case: {', '.join(sorted(missing))} (see {CASES})")
    return paths


def check(case: Case, traceback_of_failure: bool = True) -> dict[str, Any]:
    """The case under nbgrad: every diagnosis at warning or error level, with its evidence, and
    where nbgrad's own analysis failed, the last frames of that failure."""
    import nbgrad

    failures = _catch_failures() if traceback_of_failure else []
    seed_everything()
    started = time.perf_counter()
    raised = None
    try:
        report = nbgrad.gradcheck(case.cell, steps=case.steps, namespace={"__name__": "__main__"},
                                  timeout=60)
    except BaseException as error:  # the cell's own exception; the report of its steps is kept
        raised = f"{type(error).__name__}: {error}"
        report = nbgrad.last_report()
    runtime = time.perf_counter() - started
    while _RESTORE:
        _RESTORE.pop()()
    if report is None:
        return {"id": case.id, "runtime_s": runtime, "cell_error": raised,
                "analysis_error": "no report", "problems": [], "verdict": None}
    run = report.run
    steps = run.steps or run.manual_steps
    losses = [next((v for v in s.losses if v is not None), None) for s in steps]
    return {
        "id": case.id,
        "verdict": report.verdict,
        "problems": [{"code": d.code, "severity": d.severity, "title": d.title, "line": d.line,
                      "evidence": [e.text for e in d.evidence]}
                     for d in report.diagnoses if d.severity in PROBLEM_SEVERITIES],
        "notes": [f"{d.code} {d.title}" for d in report.diagnoses
                  if d.severity not in PROBLEM_SEVERITIES],
        "analysis_error": report.analysis_error,
        "cell_error": raised,
        "stopped_by": run.stopped_by,
        "steps_recorded": len(steps),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "runtime_s": runtime,
        "elapsed_s": run.elapsed_s,
        "failure_traceback": failures,
    }


def _catch_failures() -> list[str]:
    """The tracebacks of nbgrad's own failures: the report keeps only the message, and the place
    is what the next stage needs. Reads the failures the check collected while the cell ran, and
    those of building the records and diagnosing (a measurement hook for one run: nothing in
    nbgrad changes behaviour, everything is put back at the end of the run)."""
    import traceback

    from nbgrad import api

    found: list[str] = []

    def summary(failure: BaseException) -> str:
        frames = traceback.extract_tb(failure.__traceback__)[-3:]
        return (" <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.line}" for f in reversed(frames))
                + f" :: {type(failure).__name__}: {failure}")

    originals = {"build_run": api.build_run, "diagnose": api.diagnose}
    build = api.Check._build

    def watched(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return originals[name](*args, **kwargs)
            except Exception as failure:
                found.append(summary(failure))
                raise
        return call

    def collected(self: Any, *args: Any, **kwargs: Any) -> Any:
        for failure in (self.failure, self.session.internal_error, self.recorder.probe.failure):
            if failure is not None:
                found.append(summary(failure))
        return build(self, *args, **kwargs)

    def restore() -> None:
        api.build_run, api.diagnose = originals["build_run"], originals["diagnose"]
        api.Check._build = build

    api.build_run, api.diagnose = watched("build_run"), watched("diagnose")
    api.Check._build = collected
    _RESTORE.append(restore)
    return found


_RESTORE: list[Any] = []


def seed_everything(seed: int = 0) -> None:
    """The same random state before every run of a cell, so a plain run and the check see the same
    data and initial weights, and a finding is reproducible (not every program seeds itself)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Enough(BaseException):
    """Ends a plain run after the requested updates (BaseException: `except Exception` can't eat it)."""


def train_plain(case: Case, updates: int) -> dict[str, Any]:
    """The cell without nbgrad for `updates` updates, and the loss each update saw: the sum of the
    values backward() was called on since the previous optimizer step (accumulation, a GAN's two
    discriminator losses), the first closure's loss for a step that evaluates a closure (LBFGS),
    or each backward call's value in a loop that updates by hand."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    by_step: list[float] = []
    by_backward: list[float] = []
    pending: list[float] = []
    inside_step: list[float] = []
    state = {"steps": 0, "in_step": False}
    original = torch.autograd.backward

    # kept out of a compiled train step's graph, as they are no part of the user's program
    @torch.compiler.disable
    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if state["steps"] == 0 and not state["in_step"] and len(by_backward) >= updates:
            raise _Enough  # a loop without an optimizer: each backward is one update
        first = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
        if isinstance(first, torch.Tensor) and first.numel() == 1:
            value = float(first.detach().float())
            (inside_step if state["in_step"] else pending).append(value)
            if not state["in_step"]:
                by_backward.append(value)
        return original(tensors, *args, **kwargs)

    @torch.compiler.disable
    def before_step(optimizer: Any, args: Any, kwargs: Any) -> None:
        state["in_step"] = True

    @torch.compiler.disable
    def after_step(optimizer: Any, args: Any, kwargs: Any) -> None:
        state["in_step"] = False
        state["steps"] += 1
        if pending:
            by_step.append(sum(pending))
        elif inside_step:
            by_step.append(inside_step[0])
        pending.clear()
        inside_step.clear()
        if state["steps"] >= updates:
            raise _Enough

    seed_everything()
    handles = [register_optimizer_step_pre_hook(before_step),
               register_optimizer_step_post_hook(after_step)]
    torch.autograd.backward = backward
    started = time.perf_counter()
    error = None
    try:
        exec(compile(case.cell, f"<{case.id}>", "exec"), {"__name__": "__main__"})
    except _Enough:
        pass
    except BaseException as raised:
        error = f"{type(raised).__name__}: {raised}"
    finally:
        torch.autograd.backward = original
        for handle in handles:
            handle.remove()
    wall = time.perf_counter() - started
    losses = by_step if state["steps"] else by_backward
    head, tail = losses[:3], losses[-3:]
    falls = len(losses) >= 4 and sum(tail) / len(tail) < sum(head) / len(head)
    return {"updates": len(losses), "optimizer_steps": state["steps"], "wall_s": wall,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "loss_min": min(losses) if losses else None, "falls": falls, "error": error,
            "losses": losses}


def _one(path: Path, plain_steps: int) -> dict[str, Any]:
    """One case: the plain training check (which also warms torch up), the case under nbgrad with
    a count of the optimizer steps the cell really took (a cell nbgrad failed to stop runs on),
    then the same steps plain again, for the runtime to compare with."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.set_num_threads(1)
    case = load_case(path)
    result: dict[str, Any] = {"id": case.id, "program": case.program, "source": case.source,
                              "steps": case.steps}
    if plain_steps:
        result["plain"] = train_plain(case, plain_steps)
    taken = [0]
    handle = register_optimizer_step_post_hook(
        torch.compiler.disable(lambda *_: taken.__setitem__(0, taken[0] + 1)))
    before = torch_modes()
    try:
        result["nbgrad"] = check(case)
    finally:
        handle.remove()
    after = torch_modes()
    result["nbgrad"]["optimizer_steps_taken"] = taken[0]
    result["nbgrad"]["modes_changed"] = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    torch.set_grad_enabled(before["grad_enabled"])  # so the timing run below runs as the cell would
    if plain_steps:
        result["plain_same_steps_s"] = train_plain(case, case.steps)["wall_s"]
    return result


def torch_modes() -> dict[str, Any]:
    """torch's process-wide modes a check must leave as it found them."""
    import torch

    return {"grad_enabled": torch.is_grad_enabled(),
            "inference_mode": torch.is_inference_mode_enabled(),
            "anomaly_enabled": torch.is_anomaly_enabled(),
            "autocast_cpu": torch.is_autocast_enabled("cpu"),
            "default_dtype": str(torch.get_default_dtype()),
            "deterministic": torch.are_deterministic_algorithms_enabled()}


def run_in_subprocess(path: Path, plain_steps: int, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(path),
               "--plain-steps", str(plain_steps)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"id": path.stem, "crash": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{\"id\"")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        return {"id": path.stem, "crash": f"exit {done.returncode}: {tail}",
                "wall_s": time.perf_counter() - started}
    return json.loads(lines[-1])


def _row(result: dict[str, Any]) -> str:
    if "crash" in result:
        return f"| {result['id']} | CRASH | {result['crash'].splitlines()[-1][:90]} | | |"
    found = result["nbgrad"]
    problems = ", ".join(f"{p['code']}" for p in found["problems"]) or "clean"
    if found.get("modes_changed"):
        problems += " (left " + ", ".join(f"{k}={v[1]}" for k, v in found["modes_changed"].items()) + ")"
    if found["analysis_error"]:
        problems = f"ANALYSIS ERROR {found['analysis_error'][:60]}"
    plain = result.get("plain")
    trains = "" if plain is None else (
        f"{plain['loss_first']:.4g} -> {plain['loss_last']:.4g} ({plain['updates']})"
        f"{'' if plain['falls'] else ' FLAT'}" if plain["loss_first"] is not None
        else f"no loss {plain['error'] or ''}")
    return (f"| {result['id']} | {problems} | {trains} | {found['runtime_s']:.2f} | "
            f"{result.get('plain_same_steps_s', float('nan')):.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="case ids (file stems); all when none")
    parser.add_argument("--plain-steps", type=int, default=30,
                        help="updates of the plain training check (0: skip it)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.plain_steps)))
        return 0
    results = []
    print("| case | nbgrad problems | plain loss first -> last (updates) | nbgrad s | plain s, same steps |")
    print("|---|---|---|---|---|")
    for path in case_paths(args.ids):
        result = run_in_subprocess(path, args.plain_steps, args.timeout)
        results.append(result)
        print(_row(result), flush=True)
    alarms = sum(1 for r in results if "nbgrad" in r and r["nbgrad"]["problems"])
    crashes = sum(1 for r in results if "crash" in r or r["nbgrad"]["analysis_error"])
    damaged = sum(1 for r in results if "nbgrad" in r and r["nbgrad"].get("modes_changed"))
    print(f"\n{len(results)} correct loops: {alarms} with a false alarm, {crashes} crashed, "
          f"{damaged} left a torch mode changed")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
