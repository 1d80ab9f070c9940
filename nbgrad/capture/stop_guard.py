"""Make a stop stick: a loop that swallows StopRun (`except:`, `except BaseException:`) still ends.

StopRun is a BaseException, so `except Exception:` lets it pass, and the recorder raises it again
from every later hook call. A bare `except:` around the step still catches it, and the loop goes on.
Once a stop was requested (never before: tracing costs), this guard traces the cell's frames and
raises StopRun at the next line that runs outside a handler of it: the loop's next test or the line
after the `try` statement, which is outside the `try` that swallowed it.

Lines inside a handler of the StopRun (an `except` body, a `finally:`, a context manager's exit, a
generator being closed) are left to run, so the cell's own clean-up still happens. CPython drops a
trace function that raises, so a profile function (called on every call and return) puts it back
until the check ends; when another profiler is active the hooks alone re-arm it. On exit the
previous trace and profile functions (a debugger's, coverage's) are put back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from nbgrad.capture.recorder import StopRun

Tracer = Callable[[FrameType, str, Any], Any]


class StopGuard:
    """Raises `make_stop()` in frames of `filename` while `active()`, between arm() and disarm()."""

    def __init__(self, filename: str, make_stop: Callable[[], BaseException],
                 active: Callable[[], bool]) -> None:
        self.filename = filename
        self.make_stop = make_stop
        self.active = active
        self.boundary: FrameType | None = None  # frames from here up are never traced
        self.raised = 0
        self._trace_fn: Tracer = self._trace
        self._profile_fn: Tracer = self._rearm
        self._armed = False
        self._previous_trace: Any = None
        self._previous_profile: Any = None
        self._profiling = False
        self._frames: dict[int, tuple[FrameType, Any, bool]] = {}

    # -- arm / disarm -----------------------------------------------------------------------
    def arm(self) -> None:
        """Start (or resume, after CPython dropped the trace) raising in the cell's frames."""
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
        for frame, trace, lines in self._frames.values():
            if frame.f_trace is self._trace_fn or frame.f_trace is None:
                frame.f_trace = trace
                frame.f_trace_lines = lines
        self._frames.clear()

    def _trace_frames(self, frame: FrameType | None) -> None:
        """Frames already running get line events only through their own f_trace."""
        while frame is not None and frame is not self.boundary:
            if frame.f_code.co_filename == self.filename:
                if id(frame) not in self._frames:
                    self._frames[id(frame)] = (frame, frame.f_trace, frame.f_trace_lines)
                frame.f_trace = self._trace_fn
                frame.f_trace_lines = True
            frame = frame.f_back

    # -- trace and profile functions -------------------------------------------------------
    def _trace(self, frame: FrameType, event: str, arg: Any) -> Tracer | None:
        if frame.f_code.co_filename != self.filename:
            return None
        if event == "line" and self._armed and self.active() and not _handling(frame):
            self.raised += 1
            raise self.make_stop()
        return self._trace_fn

    def _rearm(self, frame: FrameType, event: str, arg: Any) -> None:
        if self._armed and sys.gettrace() is None and self.active():
            sys.settrace(self._trace_fn)
            self._trace_frames(frame)


def _handling(frame: FrameType) -> bool:
    """Whether `frame` runs a handler of the stop (or a generator's close): leave it to finish."""
    error = sys.exc_info()[1]
    if isinstance(error, GeneratorExit):
        return True
    if not isinstance(error, StopRun):
        return False
    if frame.f_code.co_name in ("__exit__", "__aexit__"):
        return True
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame is frame:
            return True
        tb = tb.tb_next
    return False
