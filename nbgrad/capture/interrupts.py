"""Ctrl-C and the timeout's stop, in the main thread, for as long as a check runs.

While a check runs in the main thread, nbgrad's SIGINT handler stands in front of the user's
(Python's default one, which the kernel also installs while a cell runs):

- a Ctrl-C while the user's code runs goes to the user's handler, as without nbgrad. One that
  lands in a finalizer (a `__del__` or a weakref callback, run between two instructions of the
  loop), where Python drops what it raises, is raised instead at the next hook call or loop
  iteration of the user's code, once: a loop that makes garbage must not swallow a Ctrl-C;
- a Ctrl-C once the user's code is over is held, and raised once the report is built and the state
  put back: a second Ctrl-C right after the first must not lose the report or leave a model half
  restored;
- the timeout's watchdog sends SIGINT to the main thread with a stop attached. An exception can
  only be raised between two instructions, and not every instruction is a good place: right after
  `torch.set_grad_enabled(False)` returned inside a `no_grad().__enter__`, an exception leaves grad
  mode off for good, as a Ctrl-C there would. So the watchdog first looks twice where the main
  thread is: when it sits in one call (blocked: a sleep, a lock, I/O), the handler raises the stop
  there, as that call's own exception (a signal ends a blocking call, which an asynchronous
  exception cannot). When it runs Python code, the handler only arms the stop guard, which raises
  at the next loop iteration of the user's code, where an exception is exactly a normal one. The
  handler never raises in nbgrad's own code, nor in code that is handling the stop (unless the run
  is being forced to end); the watchdog sends again until the stop was raised.

Only in the main thread (where Python runs signal handlers), and only when the current handler is a
Python one that can be put back. On removal SIGINT is blocked, a pending one is taken (counted as a
held Ctrl-C unless it was the watchdog's), then the previous handler is put back: no signal is left
pending. A cell that installs its own SIGINT handler keeps it.
"""

from __future__ import annotations

import _thread
import dis
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# the modules that run the user's code and then finish the check; no code of theirs runs during
# the user's code, so a signal that lands in one of them came after it
_DRIVERS = frozenset(os.path.join(_PACKAGE, name) for name in ("api.py", "cli.py"))


SAMPLE_S = 0.05  # how long the main thread must sit in one call to count as blocked
_FINALIZERS = frozenset({"weakref.py", "_weakrefset.py"})  # the stdlib's weakref callbacks
_JUMPS = frozenset(getattr(dis, "hasjump", dis.hasjrel + dis.hasjabs))


class Guard(Protocol):
    """What the handler needs of the stop guard (capture/stop_guard.py)."""

    def arm(self) -> None: ...

    def due(self) -> bool: ...


class Interrupts:
    """The SIGINT handler of one check: install() before the user's code, remove() at the end."""

    def __init__(self) -> None:
        self.installed = False
        self.held = 0  # Ctrl-C presses taken after the user's code, to raise at the end
        self._thread = 0
        self._user_code = False
        self._previous: Callable[[int, FrameType | None], Any] | None = None
        self._handler = self._handle  # one bound method, so that getsignal() can be compared
        self._stop: Callable[[], BaseException] | None = None
        self._guard: Guard | None = None
        self._later: Callable[[], None] | None = None
        self._blocked: tuple[FrameType, int] | None = None  # where the main thread sits, if it does
        self._delivered = False  # the stop was raised in the user's code
        self._sent = 0  # signals the watchdog sent; the handler counts what it took in `_taken`
        self._taken = 0

    def install(self, later: Callable[[], None] | None = None) -> None:
        """Stand in front of the current SIGINT handler; the user's code starts right after.
        `later` has a Ctrl-C that lands in a finalizer raised in the user's code instead."""
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or not callable(previous):
            return
        self._later = later
        signal.signal(signal.SIGINT, self._handler)
        self._previous, self._thread = previous, threading.get_ident()
        self.installed = self._user_code = True

    def user_code_over(self) -> None:
        """From now on a Ctrl-C is held, and no stop is raised."""
        self._user_code = False
        self._stop = self._guard = self._blocked = None

    def blocked_at(self) -> tuple[FrameType, int] | None:
        """From another thread: where the main thread sits in one call for SAMPLE_S, if it does.

        Sitting means at the same instruction of the same frame both times, and (where the
        thread's CPU clock can be read) using almost no CPU meanwhile: a busy loop also looks
        still to another thread, which only runs when the loop hands over the GIL at its jump
        back.
        """
        if not self.installed:
            return None
        before, cpu = _where(self._thread), _cpu_seconds(self._thread)
        time.sleep(SAMPLE_S)
        after, used = _where(self._thread), _cpu_seconds(self._thread)
        if after is None or before != after:
            return None
        if cpu is not None and used is not None:
            return after if used - cpu < SAMPLE_S / 5 else None
        return None if _is_backward_jump(*after) else after

    def send_stop(self, make_stop: Callable[[], BaseException], guard: Guard,
                  blocked: tuple[FrameType, int] | None) -> bool:
        """From another thread: end the user's code in the main thread (see the module docstring);
        `blocked` is what `blocked_at` saw.

        Call it again until the check ends: it sends again only while the stop was not raised
        (declined, or lost: see `stop_lost`). False when it cannot be sent (not installed, or the
        user's code replaced the handler).
        """
        if not self.installed or not self._user_code or signal.getsignal(signal.SIGINT) is not self._handler:
            return False
        if self._delivered:
            return True
        self._stop, self._guard, self._blocked = make_stop, guard, blocked
        self._sent += 1
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(self._thread, signal.SIGINT)
        else:  # no signal to one thread here: Python runs the handler at its next instruction
            _thread.interrupt_main(signal.SIGINT)
        return True

    def stop_lost(self) -> None:
        """The stop landed where Python drops exceptions (a weakref callback, `__del__`)."""
        self._delivered = False

    def remove(self) -> int:
        """Put the previous handler back; returns how many Ctrl-C presses were held."""
        if not self.installed:
            return self.held
        self.installed = False
        self.user_code_over()
        masking = hasattr(signal, "pthread_sigmask")
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masking else None
        try:
            if masking and signal.SIGINT in signal.sigpending():
                signal.sigwait({signal.SIGINT})
                self._count()
            if signal.getsignal(signal.SIGINT) is self._handler:
                signal.signal(signal.SIGINT, self._previous)  # runs a handler still due, first
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self.held

    def _count(self) -> bool:
        """Take one SIGINT: True when it was the watchdog's, else it is a held Ctrl-C."""
        ours = self._taken < self._sent
        self._taken += 1
        if not ours:
            self.held += 1
        return ours

    def _handle(self, signum: int, frame: FrameType | None) -> Any:
        if self._taken < self._sent:  # the watchdog's (a Ctrl-C sent meanwhile is the same stop)
            self._taken += 1
            self._stop_here(frame)
            return None
        if self._user_code and not _in_driver(frame):
            if _dropped_there(frame) and self._later is not None:
                # raised there, Python would print "Exception ignored" and drop it: it is raised
                # once, at the next hook call or loop iteration of the user's code, instead
                self._later()
                return None
            assert self._previous is not None
            return self._previous(signum, frame)
        self.held += 1
        return None


    def _stop_here(self, frame: FrameType | None) -> None:
        make_stop, guard, blocked = self._stop, self._guard, self._blocked
        if (make_stop is None or guard is None or frame is None or self._delivered
                or not self._user_code or _in_nbgrad(frame) or not guard.due()):
            return
        if blocked is not None and blocked[0] is frame and frame.f_lasti == blocked[1]:
            self._delivered = True
            self._blocked = None
            raise make_stop()  # out of the call the thread sat in
        guard.arm()  # running Python: the guard stops it at its next loop iteration


@contextmanager
def holding() -> Iterator[None]:
    """Run the block to its end; a Ctrl-C (SIGINT) that came meanwhile is raised after it.

    For what follows a check, such as showing its report after a first Ctrl-C: a second one
    must not cut it short. Only in the main thread, and only when the current handler is a Python
    one that can be put back.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _where(thread: int) -> tuple[FrameType, int] | None:
    """The frame a thread runs and the instruction it is at."""
    frame = sys._current_frames().get(thread)
    return None if frame is None else (frame, frame.f_lasti)


def _cpu_seconds(thread: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread))
    except (AttributeError, OSError):
        return None


def _is_backward_jump(frame: FrameType, offset: int) -> bool:
    """Whether the instruction at `offset` jumps back (where a busy loop hands over the GIL)."""
    return any(ins.offset == offset and isinstance(ins.argval, int) and ins.argval <= offset
               and ins.opcode in _JUMPS for ins in dis.get_instructions(frame.f_code))


def _in_nbgrad(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename.startswith(_PACKAGE)


def _in_driver(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename in _DRIVERS


def _dropped_there(frame: FrameType | None) -> bool:
    """Whether `frame` runs inside a finalizer: a `__del__` or a weakref callback, which the
    interpreter calls between two instructions of other code and whose exceptions it drops."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or os.path.basename(code.co_filename) in _FINALIZERS:
            return True
        frame = frame.f_back
    return False
