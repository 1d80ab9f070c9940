"""When a run ends, and why: decided here only.

A run ends when every optimizer took the steps asked for, when a GradScaler keeps skipping steps,
when no step came for the timeout, or when another rank of a torchrun job ended (`request`). The
others only carry the decision out: the hooks raise `StopRun` at their next call (`check`), the
stop guard (capture/stop_guard.py) raises it again at a loop's back-edge of the user's code while
`active()`, the watchdog and the SIGINT handler (capture/interrupts.py) deliver it where the loop
is, and the check reads the reason back (`outcome`). A Ctrl-C is the user's, not a stop: it reaches
the user's handler, and `outcome` names it.

Once the checked code is over (`close`) no new reason is taken; after nbgrad's own failure (`give_up`)
nothing stops the cell any more, so it runs on as it would without nbgrad.
"""

from __future__ import annotations

import threading
import time

from nbgrad.records import StopReason


class StopRun(BaseException):
    """Raised inside the user's loop to end it; a BaseException so `except Exception:` lets it pass.

    Its argument is the `Stop` that decided, so a nested check only catches its own.
    """


class Stop:
    """The one owner of "does the run end now, and why"."""

    def __init__(self, steps: int, timeout_s: float | None = None) -> None:
        self.steps_requested = steps
        self.timeout_s = timeout_s
        self.reason: StopReason | None = None  # None: the run goes on
        self.forced = False  # still running a whole timeout after the stop: stop its clean-up too
        self.inert = False  # nbgrad failed: nothing stops the cell any more
        self.last_progress = time.monotonic()  # the latest step: what the timeout counts from
        self._open = True
        self._interrupt = False  # a Ctrl-C to raise once in the user's code (see `interrupt`)
        self._interrupt_thread = 0  # ...in this thread only: a worker thread's hook must not take it
        self._lock = threading.Lock()  # the watchdog and rank threads request too

    # -- deciding ---------------------------------------------------------------------------
    def request(self, reason: StopReason) -> bool:
        """End the run for `reason`; False when it was ended before, is over, or nbgrad failed."""
        with self._lock:
            if not self._open or self.inert or self.reason is not None:
                return False
            self.reason = reason
            return True

    def before_step(self, taken: int) -> None:
        """An optimizer that took `taken` steps is about to take one more: not past what was asked."""
        self.check()
        if taken >= self.steps_requested:
            self.request("steps")
            raise StopRun(self)

    def after_step(self, taken: list[int]) -> None:
        """A step was taken; `taken` per optimizer (or the count of manual updates). The run ends
        when every one took its steps: a GAN's two networks both take N."""
        self.progress()
        if min(taken) >= self.steps_requested:
            self.request("steps")
            raise StopRun(self)

    def interrupt(self) -> None:
        """The user's Ctrl-C landed in a finalizer (a `__del__`, a weakref callback), where Python
        drops exceptions: raise it once, as a KeyboardInterrupt, where the stop would be raised."""
        with self._lock:
            self._interrupt = self._open and not self.inert
            self._interrupt_thread = threading.get_ident()  # the handler runs in the cell's thread

    def unraised_interrupt(self) -> bool:
        """Whether a Ctrl-C held back from a finalizer was never raised (the code ended first):
        the check raises it at its end, as it does with a Ctrl-C pressed after the code."""
        with self._lock:
            pending, self._interrupt = self._interrupt, False
            return pending

    def progress(self) -> None:
        """A step was made (or skipped): the timeout counts from now."""
        self.last_progress = time.monotonic()

    def scaler_stuck(self) -> None:
        """A GradScaler skips steps for good (its scale below 1, or never lowered). A reason
        given before stands; after the code is over, or after nbgrad failed, nothing is raised."""
        if self.request("skipped") or self.active():
            raise StopRun(self)

    def overdue(self) -> bool:
        """No step came for the timeout."""
        return self.timeout_s is not None and time.monotonic() - self.last_progress > self.timeout_s

    def escalate(self) -> None:
        """The run was stopped and still runs a whole timeout later: stop its clean-up code too."""
        with self._lock:
            self.forced = self._open

    def close(self) -> None:
        """The checked code is over: no reason is taken any more."""
        with self._lock:
            self._open = False

    def give_up(self) -> None:
        """nbgrad's own failure: never stop the cell (no StopRun, no timeout)."""
        with self._lock:
            self.inert = True
            self._open = False

    # -- asking -----------------------------------------------------------------------------
    @property
    def open(self) -> bool:
        return self._open

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def active(self) -> bool:
        """Whether the run is being stopped (what the guard and the signal handler act on)."""
        return (self.reason is not None or self._interrupt) and not self.inert

    def check(self) -> None:
        """Once the run is over, every further hook call stops the loop again."""
        if self.reason is not None or self._interrupt_here():
            raise self.make()

    def make(self) -> BaseException:
        """The stop to raise; a Ctrl-C held back from a finalizer first, once, in its thread."""
        with self._lock:
            if self._interrupt_here():
                self._interrupt = False
                return KeyboardInterrupt()
        return StopRun(self)

    def _interrupt_here(self) -> bool:
        return self._interrupt and threading.get_ident() == self._interrupt_thread

    def owns(self, error: BaseException | None) -> bool:
        """Whether `error` is this run's stop (a nested check passes on the outer one's)."""
        return isinstance(error, StopRun) and bool(error.args) and error.args[0] is self

    def outcome(self, error: BaseException | None) -> StopReason:
        """How the run ended, given what the checked code raised (None: it returned)."""
        if self.owns(error) or (error is None and self.reason is not None):
            return self.reason or "steps"
        if isinstance(error, KeyboardInterrupt):
            return "interrupt"
        if error is not None and not isinstance(error, StopRun):
            return "error"
        return "finished"
