"""Make a stop stick: a loop that swallows StopRun (`except:`, `except BaseException:`,
`contextlib.suppress`) still ends, and the stop still unwinds like any other exception.

StopRun is raised from nbgrad's hooks, inside a call in the user's code, so every `with` exits and
every `finally` runs as for any exception. A loop that catches it and goes on gets it again: once a
stop was requested (never before: tracing costs), this guard traces the user's frames and raises
StopRun at the next jump back to the start of a loop. That is where CPython itself delivers a
Ctrl-C or an asynchronous exception in a busy loop, so the compiler covers that instruction with the
handlers of exactly the `with` and `try` blocks around it, and an exception raised there unwinds as
one raised by the loop's own code. Other places are not equivalent: on the line event at the start
of a `with` block's clean-up the exception being handled is not set yet, and one raised from the
trace function skips `__exit__`; the normal exit of a `with` lies outside its protected range; a
`try:` line's NOP is covered by no handler at all.

Line events are cheap and opcode events are not, so the guard raises on the line event at a loop's
first instruction when the exception table covers it exactly as the jump back to it (a `for` loop's
head, a `while` test); only a frame with a loop whose first instruction is not covered so (a
`while True: try:` starts at the `try:` NOP, which no handler covers) gets opcode events, and the
guard raises at that loop's jump back itself.

While the stop is being handled (an `except` or `finally` body, `__exit__`, a generator being
closed, and what they call), loops are left alone, so clean-up code runs to its end, unless the stop
is `forced` (the run did not end a whole timeout after its stop).

Whether and with what to stop is decided by the stop's owner (capture/stop.py); the guard only
raises its decision where it unwinds like the loop's own exception.

The user's code is every file outside the standard library, site-packages, torch and nbgrad: the
cell, functions defined in earlier cells, the user's own modules, plus the file being checked.
CPython drops a trace function that raises, so a profile function (called on every call and return)
puts it back until the check ends; when another profiler is active the hooks alone re-arm it. On
exit the previous trace and profile functions (a debugger's, coverage's) are put back.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import os
import site
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Protocol

import torch

Tracer = Callable[[FrameType, str, Any], Any]

_JUMPS = frozenset(getattr(dis, "hasjump", dis.hasjrel + dis.hasjabs))


class Decision(Protocol):
    """What the guard asks of the stop's owner (capture/stop.py): it decides, the guard raises."""

    forced: bool  # raise also while the stop is being handled

    def active(self) -> bool: ...

    def make(self) -> BaseException: ...


class StopGuard:
    """Raises `stop.make()` at loop heads of the user's code while `stop.active()`, between arm()
    and disarm(); `stop_types` are the exceptions whose handling is left to finish."""

    def __init__(self, filename: str, stop: Decision,
                 stop_types: tuple[type[BaseException], ...]) -> None:
        self.filename = filename
        self.stop = stop
        self.handled: tuple[type[BaseException], ...] = (GeneratorExit, *stop_types)
        self.boundary: FrameType | None = None  # frames from here up are never traced
        self.raised = 0
        self._trace_fn: Tracer = self._trace
        self._profile_fn: Tracer = self._rearm
        self._armed = False
        self._previous_trace: Any = None
        self._previous_profile: Any = None
        self._profiling = False
        self._frames: dict[int, tuple[FrameType, Any, bool, bool]] = {}
        self._points: dict[CodeType, LoopPoints] = {}

    # -- arm / disarm -----------------------------------------------------------------------
    def arm(self) -> None:
        """Start (or resume, after CPython dropped the trace) raising in the user's frames."""
        if not self._armed:
            self._armed = True
            self._previous_trace = sys.gettrace()
            self._previous_profile = sys.getprofile()
            if self._previous_profile is None:
                sys.setprofile(self._profile_fn)
                self._profiling = True
        if sys.gettrace() is not self._trace_fn:
            sys.settrace(self._trace_fn)
            self._trace_frames(sys._getframe(1))

    def disarm(self) -> None:
        if not self._armed:
            return
        self._armed = False
        if sys.gettrace() in (self._trace_fn, None):
            sys.settrace(self._previous_trace)
        if self._profiling and sys.getprofile() in (self._profile_fn, None):
            sys.setprofile(self._previous_profile)
        self._profiling = False
        for frame, trace, lines, opcodes in self._frames.values():
            if frame.f_trace is self._trace_fn or frame.f_trace is None:
                frame.f_trace = trace
                frame.f_trace_lines = lines
            frame.f_trace_opcodes = opcodes
        self._frames.clear()
        self._points.clear()

    def _trace_frames(self, frame: FrameType | None) -> None:
        """Frames already running get line events only through their own f_trace."""
        while frame is not None and frame is not self.boundary:
            if self._traced(frame.f_code):
                self._keep(frame)
                frame.f_trace = self._trace_fn
                frame.f_trace_lines = True
                if self._loop_points(frame.f_code).jumps:
                    self._watch_opcodes(frame)
            frame = frame.f_back

    def _keep(self, frame: FrameType) -> None:
        """Note how `frame` was traced before the guard changed it, to put that back."""
        if id(frame) not in self._frames:
            self._frames[id(frame)] = (frame, frame.f_trace, frame.f_trace_lines,
                                       frame.f_trace_opcodes)

    def _traced(self, code: CodeType) -> bool:
        return code.co_filename == self.filename or is_user_file(code.co_filename)

    # -- trace and profile functions -------------------------------------------------------
    def _trace(self, frame: FrameType, event: str, arg: Any) -> Tracer | None:
        code = frame.f_code
        if not self._traced(code):
            return None
        if self._armed and event in ("line", "opcode"):
            points, at = self._loop_points(code), frame.f_lasti
            if event == "line" and points.jumps and not frame.f_trace_opcodes:
                self._watch_opcodes(frame)
            if (at in points.heads if event == "line" else at in points.jumps) and self.due():
                self.raised += 1
                raise self._stop()  # no local name for it: it must be freed once dropped
        return self._trace_fn

    def _stop(self) -> BaseException:
        stop = self.stop.make()
        # any exception takes attributes; BaseException declares none
        stop._rearm_guard = _Rearm(self)  # type: ignore[attr-defined]
        return stop

    def _watch_opcodes(self, frame: FrameType) -> None:
        """A loop whose jump back is the only good place to raise: see every instruction."""
        self._keep(frame)
        frame.f_trace_opcodes = True

    def due(self) -> bool:
        """Whether a stop may be raised here: the run is stopping, and the code running is not
        clean-up of the stop (unless the stop is `forced`)."""
        stop = self.stop
        return stop.active() and (stop.forced or not isinstance(sys.exc_info()[1], self.handled))

    def _rearm(self, frame: FrameType, event: str, arg: Any) -> None:
        if self._armed and sys.gettrace() is None and self.stop.active():
            sys.settrace(self._trace_fn)
            self._trace_frames(frame)

    def _loop_points(self, code: CodeType) -> LoopPoints:
        points = self._points.get(code)
        if points is None:
            points = self._points[code] = loop_points(code)
        return points


class _Rearm:
    """Hung on each stop the guard raises: when the stop is dropped, the guard is put back.

    CPython takes the trace function away (from the thread and from the frame) when it raises, and
    only the next call puts it back (see `_rearm`). A loop that catches the stop in the same frame
    without calling anything (`while True: try: ... except: pass`) would pass its next loop start
    unseen, every time. The end of that `except` block drops the caught stop, which frees it and
    this object with it, in the frame that caught it: that is where the guard is armed again.
    """

    def __init__(self, guard: StopGuard) -> None:
        self.guard = guard
        self.thread = threading.get_ident()

    def __del__(self) -> None:
        guard = self.guard
        if guard._armed and threading.get_ident() == self.thread and guard.stop.active():
            with contextlib.suppress(Exception):
                guard.arm()


@dataclass(frozen=True)
class LoopPoints:
    """Where in one code object the guard may raise (byte offsets)."""

    heads: frozenset[int]  # loop starts covered by the same handlers as every jump back to them
    jumps: frozenset[int]  # for the other loops: the jump back, or the instruction just before it


def loop_points(code: CodeType) -> LoopPoints:
    """The loops of `code`: where each iteration starts, and where it jumps back.

    An instruction with a large argument starts at its EXTENDED_ARG prefix, which is where the
    trace function sees it. `JUMP_BACKWARD_NO_INTERRUPT` is left out: it loops inside one
    expression (`yield from`, `await`) or returns from an exception handler, not over the user's
    lines. Before Python 3.11
    handlers are a run-time block stack, which covers every instruction as it should, so every
    loop start is as good as its jump back. CPython 3.13 leaves the jump back of a `while <test>:`
    loop uncovered (a Ctrl-C there skips the `with` and `finally` around the loop, CPython issue
    130279); its test, just before the jump, is covered as the loop's start is: raise there.
    """
    table = getattr(dis.Bytecode(code), "exception_entries", None)

    def handler(offset: int) -> tuple[int, int, bool] | None:
        for entry in table or ():
            if entry.start <= offset < entry.end:
                return entry.target, entry.depth, entry.lasti
        return None

    starts: list[tuple[int, dis.Instruction]] = []  # each instruction, from its EXTENDED_ARGs on
    prefix: int | None = None
    for ins in dis.get_instructions(code):
        if ins.opname == "EXTENDED_ARG":
            prefix = ins.offset if prefix is None else prefix
            continue
        starts.append((ins.offset if prefix is None else prefix, ins))
        prefix = None
    latches: dict[int, list[int]] = {}  # loop start -> the raise point of each jump back to it
    agree: dict[int, bool] = {}
    for index, (point, ins) in enumerate(starts):
        if (ins.opcode not in _JUMPS or "NO_INTERRUPT" in ins.opname
                or not isinstance(ins.argval, int) or ins.argval > ins.offset):
            continue
        head = ins.argval
        covered, at_head = handler(point), handler(head)
        before = starts[index - 1][0] if index else None
        if covered is None and at_head is not None and before is not None \
                and handler(before) == at_head:
            point = before
        latches.setdefault(head, []).append(point)
        agree[head] = agree.get(head, True) and (table is None or covered == at_head)
    heads = frozenset(head for head, same in agree.items() if same)
    return LoopPoints(heads, frozenset(p for h in latches.keys() - heads for p in latches[h]))


def _library_roots() -> tuple[str, ...]:
    paths = {sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(getattr(site, "getsitepackages", list)())
    paths.add(getattr(site, "getusersitepackages", lambda: None)())
    paths.add(os.path.dirname(torch.__file__ or ""))
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # nbgrad itself
    roots = {os.path.normcase(os.path.realpath(p)) for p in paths if p}
    return tuple(root.rstrip(os.sep) + os.sep for root in roots)


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """Whether code compiled from `filename` is the user's (a cell, a script, their own modules)."""
    if filename.startswith("<"):
        return not filename.startswith("<frozen")
    path = os.path.normcase(os.path.realpath(filename))
    return not path.startswith(_LIBRARY_ROOTS)


_LIBRARY_ROOTS = _library_roots()
