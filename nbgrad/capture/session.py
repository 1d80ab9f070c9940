"""Install the instrumentation for one run and remove all of it on every exit path.

PyTorch's official global hooks (optimizer step pre/post, module forward) hand back removable
handles. The calls that have no hook are patched, reversibly: `torch.autograd.backward` (through
which every `Tensor.backward()` goes), the `zero_grad` methods of `Optimizer` and `Module`,
`clip_grad_norm_` (whose result is the norm before clipping), and for mixed precision
`GradScaler.scale` and `GradScaler.step` (capture/amp.py), whose skipped steps no optimizer hook sees.

The hooks are global, but a run is the checked code only: calls from threads that were already
running when the run started (a training thread of an earlier cell, a data thread) pass through
untouched, neither recorded nor stopped. Threads the checked code starts are part of the run: their
steps are recorded, and when the checked code is over they are stopped too (and briefly waited for).

Every run ends; when, and why, is decided by the run's `Stop` (capture/stop.py), and this session
carries the decision out: the hooks raise StopRun, a StopGuard makes it stick in loops that swallow
it, and a watchdog thread stops a run that made no step for `timeout_s`: first through the
next hook call, then, if none comes, by interrupting the checked code where it is (a signal in the
main thread, which also ends a blocking call; an asynchronous exception in another thread). A run
still going a whole timeout after its stop gets the stop even inside its clean-up code. A bug in
nbgrad's own hooks makes the whole session inert at once (no recording, no stop, no timeout), so the
cell runs on as it would without nbgrad.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook
from torch.nn.utils import clip_grad
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from nbgrad.capture import amp, patching
from nbgrad.capture.interrupts import Interrupts
from nbgrad.capture.recorder import Recorder
from nbgrad.capture.stop import Stop, StopRun
from nbgrad.capture.stop_guard import StopGuard, is_user_file

__all__ = ["CaptureSession", "StopRun", "active_session"]

_ACTIVE: list[CaptureSession] = []
TIMEOUT_GRACE_S = 1.0  # after the timeout, how long the loop has to reach one of nbgrad's hooks


def active_session() -> CaptureSession | None:
    """The innermost session that is installed right now."""
    return _ACTIVE[-1] if _ACTIVE else None


class CaptureSession:
    """Context manager: hooks in on enter, hooks out on exit, whatever happened in between."""

    def __init__(self, recorder: Recorder, interrupts: Interrupts | None = None) -> None:
        self.recorder = recorder
        self.stop: Stop = recorder.stop  # decides; the session carries its decision out
        self.timeout_s = self.stop.timeout_s
        self.interrupts = interrupts or Interrupts()
        self._async_sent = False
        self.internal_error: BaseException | None = None
        self._undo: list[Callable[[], None]] = []
        self._thread_id = threading.get_ident()
        self._foreign: dict[int, threading.Thread] = {}  # threads running before the run: not ours
        self._backward_depth = threading.local()
        self._workers: set[threading.Thread] = set()  # threads the run started that train
        self._code_over = False
        self._watchdog: threading.Thread | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()  # the watchdog's interrupt against the end of the code
        self.guard = StopGuard(recorder.filename, self.stop, (StopRun,))
        self.timeout_stop = _timeout_stop_class(self.stop, self._arm_guard)

    def interrupt_later(self) -> None:
        """A Ctrl-C landed where Python drops it (in a finalizer): the hooks or the guard raise it
        once in the user's code. Called by the SIGINT handler, in the cell's thread."""
        self.stop.interrupt()
        self._arm_guard()

    def _arm_guard(self) -> None:
        """From the cell's thread only (sys.settrace is per thread); the hooks still re-raise
        StopRun if arming fails, so a failure here is not worth an exception of nbgrad's own."""
        if self.internal_error is None and threading.get_ident() == self._thread_id:
            with contextlib.suppress(Exception):
                self.guard.arm()

    # -- install / remove ---------------------------------------------------------------
    def __enter__(self) -> CaptureSession:
        try:
            self._install()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def _install(self) -> None:
        rec = self.recorder
        self._foreign = {t.ident: t for t in threading.enumerate()
                         if t.ident is not None and t.ident != self._thread_id}
        self._handles = [
            register_optimizer_step_pre_hook(self._guard(rec.on_step_pre)),
            register_optimizer_step_post_hook(self._guard(rec.on_step_post)),
            register_module_forward_hook(self._guard(rec.on_forward)),
        ]
        self._undo.extend(h.remove for h in self._handles)
        self._patch(torch.autograd, "backward", self._wrap_backward)
        self._patch(torch.optim.Optimizer, "zero_grad", self._wrap_zero_grad)
        self._patch(nn.Module, "zero_grad", self._wrap_zero_grad)
        self._patch(torch.amp.GradScaler, "scale", amp.wrap_scale(rec, self._guard))
        self._patch(torch.amp.GradScaler, "step", amp.wrap_step(rec, self._guard))
        self._patch(torch.nn.utils, "clip_grad_norm_", self._wrap_clip)
        self._patch(clip_grad, "clip_grad_norm_", self._wrap_clip)
        self._patch(threading, "excepthook", self._wrap_excepthook)
        self._patch(sys, "unraisablehook", self._wrap_unraisablehook)
        self._quiet_compile_warning()
        rec.probe.open_window()  # the first iteration is watched in detail
        self._undo.append(rec.probe.close)
        _ACTIVE.append(self)
        self._undo.append(lambda: _ACTIVE.remove(self))
        if self.timeout_s is not None:
            self._start_watchdog()

    def _remove(self) -> None:
        with self._lock:
            self.stop.close()
        self.guard.disarm()
        self._done.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
        """Reversibly; names the cell binds to the patched function stop recording after the
        run, and a replacement the user made during it is kept (see `patching`)."""
        self._undo.append(patching.replace(owner, name, wrap))

    def _quiet_compile_warning(self) -> None:
        """torch warns in the user's cell that a compiled module fires global hooks twice; nbgrad's
        hooks expect that (the wrapper owns no parameters), so the warning is nbgrad's noise."""
        warnings.filterwarnings(
            "ignore", message=r"Using `torch\.compile\(module\)` when there are global hooks")
        entry = warnings.filters[0]

        def remove() -> None:
            filters = cast("list[Any]", warnings.filters)  # typeshed calls the list a Sequence
            if entry in filters:
                filters.remove(entry)
                getattr(warnings, "_filters_mutated", lambda: None)()

        self._undo.append(remove)

    # -- guarded hooks ------------------------------------------------------------------
    def _guard(self, hook: Callable[..., Any]) -> Callable[..., Any]:
        """A bug in nbgrad must not break the user's loop: note it, then stop recording."""

        @functools.wraps(hook)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.internal_error is not None or torch.compiler.is_compiling():
                # torch.compile traces global hooks into the model's graph: a thread id or
                # anything else of nbgrad's there breaks the graph (the wrapper's own call,
                # outside it, is recorded)
                return None
            if threading.get_ident() != self._thread_id:
                if self._other_thread():
                    return None
                self._workers.add(threading.current_thread())
                if self._code_over:
                    raise self.stop.make()
            try:
                hook(*args, **kwargs)
            except StopRun:
                self._arm_guard()
                raise
            except Exception as error:
                self._fail(error)
            return None

        return guarded

    def stop_workers(self, wait_s: float) -> None:
        """The checked code is over: threads it started and left running (those that called a
        hook or run the user's code) get StopRun at their next hook call, and are waited for (at
        most `wait_s`), so that none takes a step after the state is restored."""
        self._code_over = True
        me = threading.current_thread()
        started = [t for t in threading.enumerate()
                   if t is not me and self._foreign.get(t.ident or 0) is not t
                   and (t in self._workers or _runs_user_code(t))]
        deadline = time.monotonic() + wait_s
        for thread in started:
            _join(thread, deadline)

    def _other_thread(self) -> bool:
        """Whether the caller is a thread that was running before the run (not one of the run's:
        a thread the run starts may get the id of one that ended meanwhile)."""
        started = self._foreign.get(threading.get_ident())
        return started is not None and threading.current_thread() is started

    def _wrap_backward(self, original: Callable[..., Any]) -> Callable[..., Any]:
        before = self._guard(self.recorder.before_backward)
        after = self._guard(self.recorder.after_backward)
        local = self._backward_depth

        @functools.wraps(original)
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            # a backward inside a backward (reentrant checkpointing) is part of it
            if getattr(local, "depth", 0) or self._other_thread():
                return original(tensors, *args, **kwargs)
            before(tensors)
            local.depth = 1
            try:
                return original(tensors, *args, **kwargs)
            finally:
                local.depth = 0
                after()

        return backward

    def _wrap_zero_grad(self, original: Callable[..., Any]) -> Callable[..., Any]:
        record = self._guard(self.recorder.on_zero_grad)

        @functools.wraps(original)
        def zero_grad(owner: Any, set_to_none: bool = True) -> Any:
            record(owner, set_to_none)
            return original(owner, set_to_none)

        return zero_grad

    def _wrap_clip(self, original: Callable[..., Any]) -> Callable[..., Any]:
        record = self._guard(self.recorder.on_clip)

        @functools.wraps(original)
        def clip_grad_norm_(parameters: Any, max_norm: Any, *args: Any, **kwargs: Any) -> Any:
            total_norm = original(parameters, max_norm, *args, **kwargs)
            record(max_norm, total_norm)
            return total_norm

        return clip_grad_norm_

    def _wrap_excepthook(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The stop ends a thread the run started as it ends the run: quietly, not as an error
        printed under "Exception in thread"."""

        @functools.wraps(original)
        def excepthook(args: Any) -> Any:
            stop = args.exc_value
            if self.stop.owns(stop):
                return None
            return original(args)

        return excepthook

    def _wrap_unraisablehook(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The timeout's stop can land in a weakref callback or a `__del__`, where Python prints
        the exception and drops it: not an error of the user's, and it is sent again."""

        @functools.wraps(original)
        def unraisablehook(unraisable: Any) -> Any:
            stop = unraisable.exc_value
            if self.stop.owns(stop):
                self.interrupts.stop_lost()
                return None
            return original(unraisable)

        return unraisablehook

    def _fail(self, error: Exception) -> None:
        """nbgrad's own bug: stop recording and never stop the cell (no StopRun, no timeout)."""
        with self._lock:
            self.internal_error = error
            self.stop.give_up()
        self._done.set()
        self.guard.disarm()

    # -- timeout ------------------------------------------------------------------------
    def _start_watchdog(self) -> None:
        timeout = self.timeout_s
        assert timeout is not None

        def watch() -> None:
            while not self._done.wait(min(0.1, timeout / 4)):
                if self.stop.overdue():
                    break
            else:
                return
            if not self.stop.request("timeout"):  # stopped before, and still running a timeout later
                self.stop.escalate()
            # the next hook call (a forward, a backward) stops the loop between two of nbgrad's
            # own calls; a loop that calls none is interrupted where it is
            while not self._done.wait(TIMEOUT_GRACE_S):
                if not self._interrupt():
                    return

        self._watchdog = threading.Thread(target=watch, name="nbgrad-timeout", daemon=True)
        self._watchdog.start()

    def _interrupt(self) -> bool:
        """Raise StopRun in the checked code where it is; True when it may be sent again.

        In the main thread a signal does it (declined in nbgrad's own code, hence sent again);
        elsewhere an asynchronous exception, once (it lands wherever the thread is).
        """
        blocked = self.interrupts.blocked_at()
        with self._lock:
            if not self.stop.open:
                return False
            if self.interrupts.send_stop(self.timeout_stop, self.guard, blocked):
                return True
            if not self._async_sent:
                self._async_sent = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._thread_id), ctypes.py_object(self.timeout_stop))
            return False

    def cancel_pending_stop(self) -> None:
        """Drop an asynchronous StopRun that was sent but not yet delivered; none is sent after.

        Call it first thing once the user's code is done. The one StopRun the watchdog may have
        sent can still land before this returns: callers catch it (see `api.Check.settle`).
        """
        with self._lock:
            self.stop.close()
            sent = self._async_sent
        if sent:
            _drain_async(self._thread_id)
        self.guard.disarm()


def _join(thread: threading.Thread, deadline: float) -> None:
    """Wait for `thread` until `deadline`, also when it was started but does not run yet."""
    while True:
        try:
            thread.join(max(0.0, deadline - time.monotonic()))
            return
        except RuntimeError:  # "cannot join thread before it is started"
            if time.monotonic() >= deadline:
                return
            time.sleep(0.001)


def _runs_user_code(thread: threading.Thread) -> bool:
    """Whether a thread runs a function of the user's (a library's own threads, such as a
    progress bar's monitor, are not waited for)."""
    run = type(thread).run
    target = getattr(thread, "_target", None) if run is threading.Thread.run else run
    code = getattr(target, "__code__", None)
    return code is not None and is_user_file(code.co_filename)


class _Drained(BaseException):
    """Replaces a pending asynchronous StopRun, and is caught at once by `_drain_async`."""


def _drain_async(thread_id: int) -> None:
    """Clear this thread's pending asynchronous exception, and the interpreter's signal for it.

    `PyThreadState_SetAsyncExc(id, NULL)` clears the exception but (CPython 3.11) leaves the
    eval-breaker signal set; under a trace or profile function (a debugger, coverage, the stop
    guard) the next function entry then spins forever. Delivering a harmless exception instead
    resets both.
    """
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                   ctypes.py_object(_Drained))
        for _ in range(1_000_000):  # the exception lands at the first check, within a few ticks
            pass
    except _Drained:
        pass


def _timeout_stop_class(stop: Stop, arm: Callable[[], None]) -> type[StopRun]:
    """The watchdog sends a class, which CPython instantiates in the cell's thread: that is where
    the guard must be armed, so that a loop that swallows the timeout's StopRun still ends."""

    class TimeoutStop(StopRun):
        def __init__(self, *args: object) -> None:
            super().__init__(stop)
            arm()

    TimeoutStop.__name__ = TimeoutStop.__qualname__ = "StopRun"
    return TimeoutStop
