"""The ranks of a torchrun job side by side: one column per thing that differs between them.

What is the same on every rank is said once, in a line; what differs gets a column with one row
per rank, so the odd rank out is seen at a glance. The other tables of a merged report show the
lowest rank that reported (rank 0, normally).
"""

from __future__ import annotations

from nbgrad.numbers import fmt
from nbgrad.records import RankRecord, Run
from nbgrad.render.views import Table

ENDED = {
    "steps": "requested steps", "finished": "loop ended", "timeout": "timed out",
    "error": "raised", "interrupt": "interrupted", "skipped": "GradScaler skipped",
    "rank": "stopped: another rank ended",
}


def _loss(r: RankRecord) -> str:
    values = [v for v in r.losses if v is not None]
    return f"{fmt(values[0])} -> {fmt(values[-1])}" if values else "-"


def _weights(r: RankRecord, step: int) -> str:
    if step < 0 or step >= len(r.checksums):
        return "-"
    return fmt(sum(r.checksums[step].param_square_sum))


def _batch(r: RankRecord) -> str:
    first = next((p for p in r.batch_fingerprints if p), None)
    return "-" if first is None else fmt(first[0])


def _ended(r: RankRecord) -> str:
    if not r.reported:
        return "no record" + (" (stuck)" if r.stuck else "")
    if r.stopped_by == "error" and r.error is not None:
        return f"raised {r.error.type}"
    return ENDED.get(r.stopped_by or "", r.stopped_by or "")


COLUMNS = ["steps", "ended", "at line", "loss first -> last", "weights after last step",
           "first batch (sum)"]


def rank_lines(run: Run) -> list[str]:
    """The heading line and what is the same on every rank."""
    if len(run.ranks) < 2:
        return []
    first = next((r for r in run.ranks if r.reported), run.ranks[0])
    where = ", ".join(x for x in (first.backend, first.device) if x)
    shown = next((r.rank for r in run.ranks if r.reported), None)
    out = [f"{len(run.ranks)} ranks (torchrun{', ' + where if where else ''}); the tables below "
           f"are rank {shown}'s" if shown is not None else f"{len(run.ranks)} ranks; none reported"]
    columns = _columns(run)
    same = [f"{name} {values[0]}" for name, values in columns.items()
            if len(set(values)) == 1 and values[0] != "-"]
    if same:
        out.append("same on every rank: " + ", ".join(same))
    return out + [f"rank {r.rank}: {r.note}" for r in run.ranks if r.note]


def _columns(run: Run) -> dict[str, list[str]]:
    common = min((len(r.checksums) for r in run.ranks if r.reported), default=0) - 1
    return {
        "steps": [str(r.steps_taken) for r in run.ranks],
        "ended": [_ended(r) for r in run.ranks],
        "at line": [str(r.stop_line) if r.stop_line is not None else "-" for r in run.ranks],
        "loss first -> last": [_loss(r) for r in run.ranks],
        "weights after last step": [_weights(r, common) for r in run.ranks],
        "first batch (sum)": [_batch(r) for r in run.ranks],
    }


def rank_table(run: Run) -> Table:
    """One row per rank, a column for each thing that differs between ranks."""
    if len(run.ranks) < 2:
        return Table(header=[], rows=[])
    columns = {name: values for name, values in _columns(run).items() if len(set(values)) > 1}
    if not columns:
        return Table(header=[], rows=[])
    rows = [[str(r.rank), *(values[i] for values in columns.values())]
            for i, r in enumerate(run.ranks)]
    return Table(header=["rank", *columns], rows=rows, title="Where the ranks differ")
