"""Merge the reports of a job's ranks into one report.

The merged report is rank 0's (the lowest rank that sent one, when rank 0 did not), with every
rank's `RankRecord` in `run.ranks` and a placeholder for a rank that sent none (with its stuck note
when it left one). The run's error is the one that ended the job: the first abnormal end, by the
time each rank ended, so that a rank that raised is named rather than the ranks that then failed
waiting for it. Diagnoses: the rules on the merged run (the cross-rank ones among them), then what
other ranks found on their own that the first did not, marked with their rank.
"""

from __future__ import annotations

import dataclasses

from nbgrad.diagnose import diagnose
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence, ordered
from nbgrad.records import RankRecord, Run, StuckNote
from nbgrad.report import Report

ABNORMAL = ("error", "interrupt", "timeout")


def merge(reports: dict[int, Report], world_size: int, stuck: dict[int, StuckNote] | None = None,
          silent: str = "no record came from it", skeleton: Run | None = None) -> Report:
    """One report from the ranks' own reports (keyed by rank). With none, `skeleton` (the
    script, the steps asked for) carries the ranks' stuck notes, and the cross-rank rules say
    where each rank waited; with neither reports nor notes nbgrad has nothing to analyse."""
    stuck = stuck or {}
    if not reports:
        run = skeleton or Run(source="", first_line=1, steps_requested=0, timeout_s=0.0,
                              stopped_by="timeout", elapsed_s=0.0)
        run = dataclasses.replace(run, ranks=[_missing(r, world_size, stuck, silent)
                                              for r in range(world_size)])
        if not stuck:
            return Report(run=run, analysis_error="no rank sent its records: " + silent)
        return Report(run=run, diagnoses=ordered(diagnose(run)))
    base_rank = min(reports)
    base = reports[base_rank]
    records = [_own_record(reports[r], r, world_size) if r in reports
               else _missing(r, world_size, stuck, silent) for r in range(world_size)]
    run = dataclasses.replace(base.run, ranks=records)
    cause = root_cause(records)
    if cause is not None and cause.error is not None:
        run.error = cause.error
    found = [] if base.analysis_error else diagnose(run)
    diagnoses = _with_other_ranks(found, reports, base_rank)
    failed = [f"rank {r}: {rep.analysis_error}" for r, rep in sorted(reports.items())
              if rep.analysis_error]
    return Report(run=run, diagnoses=ordered(diagnoses),
                  analysis_error="; ".join(failed) or None)


def root_cause(records: list[RankRecord]) -> RankRecord | None:
    """The rank whose abnormal end came first (None when every rank ended normally)."""
    ended = [r for r in records if r.reported and r.stopped_by in ABNORMAL]
    return min(ended, key=lambda r: r.ended_at) if ended else None


def _own_record(report: Report, rank: int, world_size: int) -> RankRecord:
    own = report.run.ranks[0] if report.run.ranks else None
    if own is None:
        return RankRecord(rank=rank, world_size=world_size, stopped_by=report.run.stopped_by,
                          error=report.run.error, steps_taken=len(report.run.steps),
                          note="this rank's report carries no rank record")
    return own


def _missing(rank: int, world_size: int, stuck: dict[int, StuckNote], silent: str) -> RankRecord:
    note = stuck.get(rank)
    words = silent if note is None else (
        f"did not stop: still waiting at line {note.line} after {note.waited_s:.1f} s "
        f"({note.reason}); ended by the launcher")
    return RankRecord(rank=rank, world_size=world_size, reported=False, stuck=note,
                      steps_taken=0 if note is None else note.steps,
                      stop_line=None if note is None else note.line, note=words)


def _with_other_ranks(found: list[Diagnosis], reports: dict[int, Report],
                      base_rank: int) -> list[Diagnosis]:
    """Add what other ranks found that the merged rules did not; say which ranks found a finding
    when not every rank did."""
    by_code = {d.code: d for d in found}
    seen_on: dict[str, list[int]] = {}
    for rank, report in sorted(reports.items()):
        for d in report.diagnoses:
            seen_on.setdefault(d.code, []).append(rank)
            if d.code not in by_code:
                copy = dataclasses.replace(d, evidence=list(d.evidence))
                by_code[d.code] = copy
                found.append(copy)
    for code, ranks in seen_on.items():
        if len(ranks) < len(reports) and code in by_code:
            words = ", ".join(map(str, ranks))
            by_code[code].evidence.insert(0, Evidence(f"found on rank{'s' if len(ranks) > 1 else ''} "
                                                      f"{words} of {len(reports)} that reported"))
    return found
