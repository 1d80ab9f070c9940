"""The part of a check that is about the other ranks of a torchrun job.

A check in a process of such a job measures what the cross-rank rules compare (capture/ranks.py),
and when its run ends it leaves its report on the job's channel: first a short "ended" key (how
and where it stopped), then the report. Rank 0 of a job started by the user's own torchrun waits
for the others' reports and merges them into its `check.report`; under `nbgrad check
--nproc-per-node` the launcher collects and merges instead, so that a rank that died cannot take
the report with it.

Lockstep: while the run goes on, a thread polls the other ranks' "ended" keys. When one raised,
was interrupted, timed out or was itself stopped this way, this rank is stopped too (stop reason
"rank"): at its next hook call, or by an asynchronous stop where it runs Python code without one.
A rank that still does not stop is inside a call that does not come back to Python, most often a
collective that waits for the rank that is gone; it leaves a "stuck" note (where it waits, after
how many steps) so the report says so, and is ended by the launcher (torchrun's agent, or `nbgrad
check`). With gloo a collective whose peer exited fails at once ("Connection closed by peer"), so
that rank reports normally.
"""

from __future__ import annotations

import itertools
import json
import linecache
import os
import socket
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from nbgrad.capture.ranks import RankProbe, loaders, sharding
from nbgrad.distributed.channel import Channel, open_channel
from nbgrad.distributed.merge import merge
from nbgrad.distributed.world import World, backend
from nbgrad.records import RankRecord, StuckNote
from nbgrad.report import Report

if TYPE_CHECKING:
    from nbgrad.api import Check

_SEQUENCE = itertools.count()  # the n-th check of each rank meets the n-th of the others

ABNORMAL = ("error", "interrupt", "timeout", "rank")  # ends that stop the other ranks too
POLL_S = 0.2
STOP_GRACE_S = 2.0  # after a rank ended abnormally: time to reach one of nbgrad's hooks
STUCK_GRACE_S = 5.0  # after the asynchronous stop: still running means inside a call that waits
DEFAULT_GATHER_WAIT_S = 60.0  # rank 0 waits this long for a silent rank when the check has no timeout


def key(rank: int, what: str) -> str:
    return f"{rank}/{what}"


class RankRun:
    """Measure, watch the other ranks, and share the records of one check in one rank."""

    def __init__(self, check: Check, world: World) -> None:
        self.check = check
        self.world = world
        self.sequence = next(_SEQUENCE)
        self.probe = RankProbe(check.recorder)
        self.channel: Channel | None = None
        self.peer_end: tuple[int, dict[str, Any]] | None = None
        self.stuck: StuckNote | None = None
        self.note = ""
        self._tried_channel = 0.0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._main = threading.get_ident()
        self._asked_at: float | None = None

    # -- while the run goes on --------------------------------------------------------------
    def start(self) -> None:
        """Install the checksums and start watching the other ranks; a failure here is noted in
        the rank's record and leaves the check of this rank as it would be on its own."""
        try:
            self.probe.install()
            self._thread = threading.Thread(target=self._watch, name="nbgrad-ranks", daemon=True)
            self._thread.start()
        except Exception as failure:
            self.probe.remove()
            self.note = f"the cross-rank checks could not start: {type(failure).__name__}: {failure}"

    def _open(self) -> Channel | None:
        """The channel, opened at the first call that finds one (a process group may be set up
        only inside the block); a failed attempt is retried a few seconds later."""
        if self.channel is None and time.monotonic() - self._tried_channel > 2.0:
            self._tried_channel = time.monotonic()
            try:
                self.channel = open_channel(self.sequence)
            except Exception as failure:
                self.note = f"could not reach the other ranks: {type(failure).__name__}: {failure}"
        return self.channel

    def _watch(self) -> None:
        seen: set[int] = set()
        steps = -1
        interrupted_at: float | None = None
        while not self._done.wait(POLL_S):
            try:
                channel = self._open()
                if channel is None:
                    continue
                if steps < 0:  # first time through: the launcher may forward a Ctrl-C to it
                    channel.put(key(self.world.rank, "pid"), str(os.getpid()))
                done = len(self.check.recorder.steps)
                if done != steps:
                    steps = done
                    channel.put(key(self.world.rank, "steps"), str(done))
                if self.peer_end is None:
                    self._look_at_peers(channel, seen)
                now = time.monotonic()
                if self._asked_at is None and self.check.stop.reason == "timeout":
                    self._asked_at = now  # the session's own watchdog stops the loop
                    interrupted_at = now + STOP_GRACE_S
                if (self.peer_end is not None and interrupted_at is None
                        and now - self._asked_at > STOP_GRACE_S):  # type: ignore[operator]
                    _interrupt(self.check.session)
                    interrupted_at = now
                if (interrupted_at is not None and self.stuck is None
                        and now - interrupted_at > STUCK_GRACE_S):
                    self.stuck = self._stuck_note(now)
                    channel.put(key(self.world.rank, "stuck"), json.dumps(_plain(self.stuck)))
            except Exception as failure:  # never let the watcher take the rank down
                self.note = f"the watch on the other ranks failed: {type(failure).__name__}: {failure}"
                return

    def _look_at_peers(self, channel: Channel, seen: set[int]) -> None:
        for rank in self.world.others:
            if rank in seen or not channel.has(key(rank, "ended")):
                continue
            seen.add(rank)
            info = json.loads(channel.take(key(rank, "ended")) or "{}")
            if info.get("stopped_by") in ABNORMAL:
                self.peer_end = (rank, info)
                self._ask_stop()
                return

    def _ask_stop(self) -> None:
        """Stop this rank's loop at its next hook call: another rank will not take part any more."""
        self._asked_at = time.monotonic()
        self.check.stop.request("rank")

    def _stuck_note(self, now: float) -> StuckNote:
        frame = sys._current_frames().get(self._main)
        stack = traceback.extract_stack(frame) if frame is not None else []
        mine = [f for f in stack if f.filename == self.check.filename]
        shown = mine + ([stack[-1]] if stack and (not mine or stack[-1] is not mine[-1]) else [])
        if self.peer_end is not None:
            rank, info = self.peer_end
            reason = f"rank {rank} ended ({info.get('stopped_by')}{_error_words(info)})"
        else:
            reason = "no optimizer step within the timeout"
        return StuckNote(
            line=mine[-1].lineno if mine else None,
            frames=[f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}: "
                    f"{(f.line or linecache.getline(f.filename, f.lineno or 0)).strip()}"
                    for f in shown],
            steps=len(self.check.recorder.steps), waited_s=now - (self._asked_at or now),
            reason=reason)

    # -- after the run --------------------------------------------------------------------------
    def finish(self, report: Report | None, error: BaseException | None) -> Report | None:
        """Stop watching, add this rank's record to its report, share it; on rank 0 of a job
        that nbgrad did not launch, return the report merged with the other ranks'."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        self.probe.remove()
        if report is None:
            return None
        try:
            record = self._record(report, error)
            report.run.ranks = [record]
            channel = self._open() if self.channel is None else self.channel
            if channel is None:
                record.note = record.note or ("the other ranks could not be reached: no torchrun "
                                              "store, no process group and no NBGRAD_RANKS_DIR")
                return report
            ended = {"stopped_by": record.stopped_by, "steps": record.steps_taken,
                     "line": record.stop_line, "at": record.ended_at,
                     "error": None if record.error is None else
                     f"{record.error.type}: {record.error.message}"}
            channel.put(key(self.world.rank, "ended"), json.dumps(ended))
            channel.put(key(self.world.rank, "report"), report.to_json())
            if self.world.launched or self.world.rank != 0:
                return report
            return self._gather(report, channel)
        except Exception as failure:
            note = f"nbgrad could not share this rank's records: {type(failure).__name__}: {failure}"
            if report.run.ranks:
                report.run.ranks[0].note = note
            return report

    def _record(self, report: Report, error: BaseException | None) -> RankRecord:
        from nbgrad.api import _with_frame_locals

        run = report.run
        tb = None if error is None else error.__traceback__
        namespace = _with_frame_locals(self.check.namespace, tb, self.check.filename)
        initial, checksums = self.probe.rank_steps(run)
        failure = self.probe.failure
        note = self.note or ("" if failure is None else
                             f"the checksums stopped: {type(failure).__name__}: {failure}")
        first = next(iter(run.params.values()), None)
        return RankRecord(
            rank=self.world.rank, world_size=self.world.world_size,
            local_rank=self.world.local_rank, host=socket.gethostname(), pid=os.getpid(),
            backend=backend(), device="" if first is None else first.device,
            stopped_by=run.stopped_by, error=run.error, ended_at=time.time(),
            stop_line=None if error is None else self.check._error_line(tb),
            steps_taken=len(run.steps),
            step_lines=[e.line for e in run.events if e.kind == "step"][:len(run.steps)],
            losses=[s.losses[0] if s.losses else None for s in run.steps],
            batch_fingerprints=[s.batch_fingerprint for s in run.steps],
            initial=initial, checksums=checksums,
            ddp=self.probe.ddp_modules(run, namespace), loaders=loaders(namespace, run.source),
            batchnorm=[c for c in run.forward.modules if "BatchNorm" in c.type and c.training],
            sharded=sharding(self.check.recorder),
            stuck=self.stuck, diagnoses=[d.code for d in report.diagnoses], note=note)

    def _gather(self, own: Report, channel: Channel) -> Report:
        """Rank 0: the other ranks' reports (or stuck notes) as they come, then one merged report.
        A rank that shows no progress for the check's timeout is given up on."""
        wait = self.check.timeout or DEFAULT_GATHER_WAIT_S
        reports = {self.world.rank: own}
        stuck: dict[int, StuckNote] = {}
        progress: dict[int, str | None] = {}
        deadline = time.monotonic() + wait + STUCK_GRACE_S
        while True:
            missing = [r for r in self.world.others if r not in reports]
            for rank in missing:
                raw = channel.take(key(rank, "report"))
                if raw is not None:
                    reports[rank] = Report.from_json(raw)
                    continue
                note = channel.take(key(rank, "stuck"))
                if note is not None and rank not in stuck:
                    stuck[rank] = StuckNote(**json.loads(note))
                steps = channel.take(key(rank, "steps"))
                if steps != progress.get(rank):
                    progress[rank] = steps
                    deadline = time.monotonic() + wait + STUCK_GRACE_S
            missing = [r for r in missing if r not in reports]
            if not missing or all(r in stuck for r in missing) or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        return merge(reports, self.world.world_size, stuck,
                     silent=f"no record within {wait:g} s of rank {self.world.rank}'s end")


def _interrupt(session: Any) -> None:
    """Stop the checked code where it is, the way the session's own timeout does (a session that
    sends a signal calls it `_interrupt`, one that sends an asynchronous exception
    `_interrupt_main`)."""
    interrupt = getattr(session, "_interrupt", None) or session._interrupt_main
    interrupt()


def _error_words(info: dict[str, Any]) -> str:
    return f": {info['error']}" if info.get("error") else ""


def _plain(note: StuckNote) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(note)
