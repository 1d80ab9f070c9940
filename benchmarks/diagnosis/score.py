"""How often nbgrad names the right cause, at the line of the fix, on bugs it has never seen.

    python benchmarks/diagnosis/score.py                  # every case (a few minutes on 2 cores)
    python benchmarks/diagnosis/score.py --quick          # the CI subset
    python benchmarks/diagnosis/score.py --json out.json  # also write every figure and diagnosis
    python benchmarks/diagnosis/score.py --verify-fixes   # check that every FIX trains better
    python benchmarks/diagnosis/score.py --held-out       # only the cases marked HELD_OUT

Each case runs in its own process (two at a time) through nbgrad.gradcheck(CELL, steps=STEPS) in a
fresh namespace. A bug case is diagnosed when an error or warning carries one of its cause's codes
(causes.py), at the right line when that diagnosis's line is in FIX_LINES; every other error or
warning is a wrong cause. A correct loop with any error or warning is a false alarm. Cases marked
HELD_OUT (written after the rules, never used to tune them) are also counted on a line of their own.

--verify-fixes runs CELL and FIX without nbgrad, from the same seed, for the same steps, and
passes a case when the fix trains clearly better (see `fix_verdict`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from causes import CAUSES, FAMILIES  # noqa: E402
from corpus import CASES, Case, load, problems  # noqa: E402

ROOT = HERE.parents[1]
PROBLEM_SEVERITIES = ("error", "warning")
RUN_TIMEOUT_S = 240
# two bugs nbgrad has a rule for, one it has none for, one exception, and two correct loops:
# every path of the scorer, in well under a minute on two cores
QUICK = ("bugs/softmax_ce_mlp_digits", "bugs/missing_zero_grad_regression",
         "bugs/labels_shuffled_separately_numpy", "bugs/linear_in_features_cnn")
QUICK_CORRECT = 2
# --verify-fixes: the fix must improve on the bug by at least this much
PROGRESS_MARGIN = 0.10  # the fraction by which the training loss fell, fix minus bug
HELD_MARGIN = 0.20  # the held-out metric of the fix below (1 - margin) x the bug's


# -- running cases in worker processes ----------------------------------------------------------
def _worker(args: list[str], timeout: float = RUN_TIMEOUT_S) -> dict[str, Any]:
    """Run worker.py in a fresh interpreter; a crash or hang becomes a `worker_error`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]),
               "MPLBACKEND": "Agg"}
        try:
            done = subprocess.run([sys.executable, str(HERE / "worker.py"), *args, str(out)],
                                  cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"worker_error": f"no result after {timeout:.0f} s"}
        if not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"worker_error": f"worker exited {done.returncode}: " + " | ".join(tail)}
        return json.loads(out.read_text())


def _parallel(items: list[Any], run: Callable[[Any], dict[str, Any]], label: Callable[[Any], str],
              show: Callable[[Any, dict[str, Any]], str], jobs: int) -> list[dict[str, Any]]:
    """Run items two at a time, printing one progress line per finished item."""
    results: list[dict[str, Any]] = [{} for _ in items]
    started = time.perf_counter()

    def one(index: int) -> None:
        t0 = time.perf_counter()
        results[index] = run(items[index])
        done = sum(1 for r in results if r)
        print(f"[{done:3d}/{len(items)}] {label(items[index]):48s} {show(items[index], results[index])}"
              f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, range(len(items))))
    print(f"{len(items)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return results


# -- judging one case ----------------------------------------------------------------------------
def judge_bug(case: Case, run: dict[str, Any]) -> dict[str, Any]:
    """Right cause, right line, wrong causes and crashes of one bug case's run."""
    cause = CAUSES[case.cause or ""]
    problems_ = [d for d in run.get("diagnoses", []) if d["severity"] in PROBLEM_SEVERITIES]
    right = [d for d in problems_ if d["code"] in cause.codes]
    wrong = [d for d in problems_ if d["code"] not in cause.codes]
    info_only = [d for d in run.get("diagnoses", [])
                 if d["severity"] == "info" and d["code"] in cause.codes]
    crashed = bool(run.get("analysis_error")) or "worker_error" in run or run.get("no_report", False)
    result = {
        "id": case.id, "kind": "bug", "held_out": case.held_out, "cause": case.cause,
        "family": cause.family,
        "expected_codes": list(cause.codes), "fix_lines": case.fix_lines,
        "right_cause": bool(right),
        "right_line": any(d["line"] in case.fix_lines for d in right),
        "wrong_cause": [f"{d['severity']} {d['code']} line {d['line']}" for d in wrong],
        "wrong_cause_errors": sum(1 for d in wrong if d["severity"] == "error"),
        "crash": crashed,
        "crash_reason": run.get("analysis_error") or run.get("worker_error"),
        "raised": run.get("raised"),
        "diagnoses": run.get("diagnoses", []),
        "elapsed_s": run.get("elapsed_s"),
    }
    result["needs"] = _needs(result, bool(cause.codes), bool(info_only))
    return result


def _needs(result: dict[str, Any], has_rule: bool, info_only: bool) -> str | None:
    """What nbgrad would need to get this case right, in the words of the next stage of work."""
    if result["crash"]:
        return "crash fix"
    if result["right_cause"]:
        return None if result["right_line"] else "better line"
    if not has_rule:
        return "new rule"
    if info_only:
        return "threshold (fired at info level only)"
    return "rule did not fire (threshold or variant)"


def judge_correct(case: Case, run: dict[str, Any]) -> dict[str, Any]:
    problems_ = [d for d in run.get("diagnoses", []) if d["severity"] in PROBLEM_SEVERITIES]
    return {
        "id": case.id, "kind": "correct", "held_out": case.held_out,
        "program": case.fields.get("PROGRAM"),
        "false_alarms": [f"{d['severity']} {d['code']} line {d['line']}: {d['title']}" for d in problems_],
        "crash": bool(run.get("analysis_error")) or "worker_error" in run or run.get("no_report", False),
        "crash_reason": run.get("analysis_error") or run.get("worker_error"),
        "raised": run.get("raised"),
        "elapsed_s": run.get("elapsed_s"),
    }


# -- counting ------------------------------------------------------------------------------------
def _share(n: int, total: int) -> str:
    return f"{n}/{total} ({100 * n / total:.0f} %)" if total else "0/0"


def tally(bugs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    bugs = list(bugs)
    return {
        "cases": len(bugs),
        "right_cause": sum(b["right_cause"] for b in bugs),
        "right_line": sum(b["right_line"] for b in bugs),
        "cases_with_wrong_cause": sum(bool(b["wrong_cause"]) for b in bugs),
        "wrong_cause_diagnoses": sum(len(b["wrong_cause"]) for b in bugs),
        "wrong_cause_errors": sum(b["wrong_cause_errors"] for b in bugs),
        "crashes": sum(b["crash"] for b in bugs),
    }


def tally_correct(correct: Iterable[dict[str, Any]]) -> dict[str, Any]:
    correct = list(correct)
    return {"cases": len(correct),
            "clean": sum(not c["false_alarms"] and not c["crash"] for c in correct),
            "false_alarms": sum(bool(c["false_alarms"]) for c in correct),
            "crashes": sum(c["crash"] for c in correct)}


def summarise(judged: list[dict[str, Any]]) -> dict[str, Any]:
    """Per family and overall figures for the bugs; false alarms and crashes for correct loops;
    the same for the held-out cases alone, which are the figures the rules were not tuned on."""
    bugs = [j for j in judged if j["kind"] == "bug"]
    correct = [j for j in judged if j["kind"] == "correct"]
    held_bugs = [b for b in bugs if b["held_out"]]
    held_correct = [c for c in correct if c["held_out"]]
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in bugs:
        by_family[b["family"]].append(b)
    needs: dict[str, list[str]] = defaultdict(list)
    for b in bugs:
        if b["needs"]:
            needs[b["needs"]].append(b["id"])
    return {
        "overall": tally(bugs),
        "families": {f: tally(by_family[f]) for f in FAMILIES if f in by_family},
        "causes": len({b["cause"] for b in bugs}),
        "causes_without_code": sorted({b["cause"] for b in bugs if not b["expected_codes"]}),
        "needs": dict(needs),
        "correct": tally_correct(correct),
        "held_out": {"bugs": tally(held_bugs), "causes": len({b["cause"] for b in held_bugs}),
                     "correct": tally_correct(held_correct)},
    }


def render(summary: dict[str, Any], judged: list[dict[str, Any]]) -> str:
    """The score as plain-text tables."""
    rows = [("family", "cases", "right cause", "right line", "wrong cause (cases / errors)", "crashes")]
    for name, t in [*summary["families"].items(), ("overall", summary["overall"])]:
        rows.append((name, str(t["cases"]), _share(t["right_cause"], t["cases"]),
                     _share(t["right_line"], t["cases"]),
                     f"{t['cases_with_wrong_cause']} / {t['wrong_cause_errors']}", str(t["crashes"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    c = summary["correct"]
    out = [f"{summary['overall']['cases']} bug cases over {summary['causes']} causes; "
           f"{c['cases']} correct loops", "", *lines, "",
           f"correct loops: {c['clean']}/{c['cases']} clean at warning and error level, "
           f"{c['false_alarms']} with a false alarm, {c['crashes']} analysis crashes"]
    for j in judged:
        if j["kind"] == "correct" and (j["false_alarms"] or j["crash"]):
            out.append(f"  {j['id']}: {'; '.join(j['false_alarms']) or j['crash_reason']}")
    h = summary["held_out"]
    if h["bugs"]["cases"] or h["correct"]["cases"]:
        t, hc = h["bugs"], h["correct"]
        out += ["", f"held out (written after the rules, not used to tune them): {t['cases']} bug cases "
                f"over {h['causes']} causes: right cause {_share(t['right_cause'], t['cases'])}, "
                f"right line {_share(t['right_line'], t['cases'])}, wrong cause "
                f"{t['cases_with_wrong_cause']} cases / {t['wrong_cause_errors']} errors, "
                f"{t['crashes']} crashes; correct loops {hc['clean']}/{hc['cases']} clean, "
                f"{hc['crashes']} crashes"]
    out += ["", "misses, by what nbgrad would need:"]
    for need, ids in sorted(summary["needs"].items()):
        out.append(f"  {need} ({len(ids)}): {', '.join(i.split('/', 1)[1] for i in ids)}")
    out += ["", "causes with no nbgrad code: " + ", ".join(summary["causes_without_code"])]
    return "\n".join(out)


# -- checking the fixes --------------------------------------------------------------------------
def _progress(losses: list[float]) -> float:
    """How far the training loss fell: (first loss - mean of the last third) / |first loss|.

    CELL and FIX start from the same seed, weights and first batch, so their first losses are
    usually equal; the last third's mean smooths over batch-to-batch noise.
    """
    k = max(1, len(losses) // 3)
    first, last = losses[0], sum(losses[-k:]) / k
    return (first - last) / abs(first) if first else 0.0


def fix_verdict(bug: dict[str, Any], fix: dict[str, Any]) -> tuple[bool, str]:
    """Whether FIX trains clearly better than CELL, and the measured reason.

    The fix must run without an exception, with finite losses that fall over its steps. Then a
    bug that raises, or whose loss or held-out value is not finite, is clearly worse. Otherwise,
    with a HELD expression, the fix's held-out value must be at least HELD_MARGIN below the bug's;
    without one, the fix's training loss must fall by PROGRESS_MARGIN more than the bug's, each
    as a fraction of its first loss (see `_progress`).
    """
    for name, run in (("CELL", bug), ("FIX", fix)):
        if "worker_error" in run:
            return False, f"{name} run failed: {run['worker_error']}"
    if fix["raised"]:
        return False, f"FIX raised {fix['raised']}"
    if not fix["finite"]:
        return False, "FIX has a non-finite loss"
    if len(fix["losses"]) < 2:
        return False, f"FIX recorded {len(fix['losses'])} losses"
    if _progress(fix["losses"]) <= 0:
        return False, f"FIX's loss does not fall ({fix['losses'][0]:.4g} -> {fix['losses'][-1]:.4g})"
    if bug["raised"]:
        return True, f"CELL raises {bug['raised']}; FIX runs"
    if not bug["finite"]:
        return True, "CELL's loss becomes non-finite; FIX's stays finite"
    if fix["held"] is not None:
        if bug["held"] is None:
            return False, "CELL has no held-out value"
        ok = fix["held"] <= (1 - HELD_MARGIN) * bug["held"]
        return ok, f"held-out {bug['held']:.4g} -> {fix['held']:.4g}"
    pb, pf = _progress(bug["losses"]), _progress(fix["losses"])
    return pf >= pb + PROGRESS_MARGIN, f"loss fell by {pb:+.1%} (CELL) vs {pf:+.1%} (FIX)"


# -- main ----------------------------------------------------------------------------------------
def _select(cases: list[Case], quick: bool, only: list[str] | None,
            held_out: bool = False) -> list[Case]:
    if held_out:
        cases = [c for c in cases if c.held_out]
    if only:
        return [c for c in cases if c.id in only or c.id.split("/", 1)[1] in only]
    if not quick:
        return cases
    chosen = [c for c in cases if c.id in QUICK]
    return chosen + [c for c in cases if c.kind == "correct"][:QUICK_CORRECT]


def _environment() -> dict[str, str]:
    import platform

    import torch

    import nbgrad

    return {"nbgrad": getattr(nbgrad, "__version__", "?"), "torch": torch.__version__,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def score(cases: list[Case], jobs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    runs = _parallel(cases, lambda c: _worker(["diagnose", str(c.path)]), lambda c: c.id,
                     lambda c, r: _brief(c, r), jobs)
    judged = [judge_bug(c, r) if c.kind == "bug" else judge_correct(c, r) for c, r in zip(cases, runs)]
    return judged, summarise(judged)


def _brief(case: Case, run: dict[str, Any]) -> str:
    if "worker_error" in run:
        return "RUN FAILED: " + _last_line(run["worker_error"])
    j = judge_bug(case, run) if case.kind == "bug" else judge_correct(case, run)
    if case.kind == "correct":
        return "clean" if not j["false_alarms"] and not j["crash"] else "FALSE ALARM" if \
            j["false_alarms"] else "CRASH"
    said = ",".join(f"{d['code']}@{d['line']}" for d in run.get("diagnoses", [])
                    if d["severity"] in PROBLEM_SEVERITIES) or "-"
    return f"cause {'yes' if j['right_cause'] else 'no '} line {'yes' if j['right_line'] else 'no '} [{said}]"


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else text


def verify(cases: list[Case], jobs: int) -> list[dict[str, Any]]:
    bugs = [c for c in cases if c.kind == "bug"]
    pairs = [(c, which) for c in bugs for which in ("CELL", "FIX")]
    runs = _parallel(pairs, lambda p: _worker(["plain", str(p[0].path), p[1]]),
                     lambda p: f"{p[0].id} {p[1]}", lambda p, r: _last_line(r.get("raised") or
                     r.get("worker_error") or f"{len(r.get('losses', []))} losses"), jobs)
    out = []
    for i, case in enumerate(bugs):
        ok, reason = fix_verdict(runs[2 * i], runs[2 * i + 1])
        out.append({"id": case.id, "ok": ok, "reason": reason})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small subset CI runs")
    parser.add_argument("--json", type=Path, help="write every figure and diagnosis to this file")
    parser.add_argument("--verify-fixes", action="store_true",
                        help="check that each FIX trains clearly better than its CELL (no nbgrad)")
    parser.add_argument("--cases", type=Path, default=CASES, help="the folder with bugs/ and correct/")
    parser.add_argument("--only", nargs="+", help="case ids to run (bugs/x or x)")
    parser.add_argument("--held-out", action="store_true",
                        help="only the cases marked HELD_OUT (written after the rules)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    args = parser.parse_args(argv)

    cases = _select(load(args.cases), args.quick, args.only, args.held_out)
    invalid = {c.id: p for c in cases if (p := problems(c))}
    for case_id, found in invalid.items():
        print(f"{case_id}: " + "; ".join(found), file=sys.stderr)
    if invalid:
        return 2
    if args.verify_fixes:
        checked = verify(cases, args.jobs)
        for v in checked:
            print(f"{'ok  ' if v['ok'] else 'FAIL'} {v['id']}: {v['reason']}")
        failed = [v for v in checked if not v["ok"]]
        print(f"{len(checked) - len(failed)}/{len(checked)} fixes train clearly better")
        if args.json:
            args.json.write_text(json.dumps({"environment": _environment(), "fixes": checked}, indent=1))
        return 1 if failed else 0
    judged, summary = score(cases, args.jobs)
    print(render(summary, judged))
    if args.json:
        args.json.write_text(json.dumps({"environment": _environment(), "summary": summary,
                                         "cases": judged}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
