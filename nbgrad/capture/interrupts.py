"""Ctrl-C while the state is being put back would leave a model half old, half new: take it after."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block to its end; a Ctrl-C (SIGINT) that came meanwhile is raised after it.

    Only in the main thread (where Python runs signal handlers), and only when the current
    handler is a Python one that can be put back.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
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
