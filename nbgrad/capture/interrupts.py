"""Ctrl-C and the timeout's stop, in the main thread, for as long as a check runs.

While a check runs in the main thread, nbgrad's SIGINT handler stands in front of the user's
(Python's default one, which the kernel also installs while a cell runs):

- a Ctrl-C while the user's code runs goes to the user's handler, as without nbgrad;
- a Ctrl-C once the user's code is over is held, and raised once the report is built and the state
  put back: a second Ctrl-C right after the first must not lose the report or leave a model half
  restored;
- the timeout's watchdog sends SIGINT to the main thread with a stop attached, and the handler
  raises the stop there. Unlike an asynchronous exception, a signal also ends a blocking call
  (`time.sleep`, `queue.get()`, a lock, a socket). The handler raises the stop only in the user's
  code, never in nbgrad's (it declines there, and the watchdog sends again), so a stop cannot land
  in nbgrad's clean-up after the user's code ended.

Only in the main thread (where Python runs signal handlers), and only when the current handler is a
Python one that can be put back. On removal SIGINT is blocked, a pending one is taken (counted as a
held Ctrl-C unless it was the watchdog's), then the previous handler is put back: no signal is left
pending. A cell that installs its own SIGINT handler keeps it.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# the modules that run the user's code and then finish the check; no code of theirs runs during
# the user's code, so a signal that lands in one of them came after it
_DRIVERS = frozenset(os.path.join(_PACKAGE, name) for name in ("api.py", "cli.py"))


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
        self._sent = 0  # signals the watchdog sent; the handler counts what it took in `_taken`
        self._taken = 0

    def install(self) -> None:
        """Stand in front of the current SIGINT handler; the user's code starts right after."""
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or not callable(previous):
            return
        signal.signal(signal.SIGINT, self._handler)
        self._previous, self._thread = previous, threading.get_ident()
        self.installed = self._user_code = True

    def user_code_over(self) -> None:
        """From now on a Ctrl-C is held, and no stop is raised."""
        self._user_code = False
        self._stop = None

    def send_stop(self, make_stop: Callable[[], BaseException]) -> bool:
        """From another thread: raise `make_stop()` in the user's code of the main thread.

        False when it cannot be sent (not installed, or the user's code replaced the handler).
        """
        if not self.installed or not self._user_code or signal.getsignal(signal.SIGINT) is not self._handler:
            return False
        self._stop = make_stop
        self._sent += 1
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(self._thread, signal.SIGINT)
        else:  # no signal to one thread here: Python runs the handler at its next instruction
            _thread.interrupt_main(signal.SIGINT)
        return True

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
            make_stop = self._stop
            if make_stop is not None and self._user_code and not _in_nbgrad(frame):
                self._stop = None
                raise make_stop()
            return None
        if self._user_code and not _in_driver(frame):
            assert self._previous is not None
            return self._previous(signum, frame)
        self.held += 1
        return None


def _in_nbgrad(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename.startswith(_PACKAGE)


def _in_driver(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename in _DRIVERS
