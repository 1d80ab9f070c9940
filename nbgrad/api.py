"""The Python API: `gradcheck()` for a cell or function, `capture()` for a block in a script.

Both drive one `Check`, which owns the capture session of a run and turns it into a `Report`.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from types import CodeType, TracebackType
from typing import Any

from nbgrad.capture import CaptureSession, StopRun
from nbgrad.capture.finish import build_run
from nbgrad.capture.recorder import Recorder
from nbgrad.diagnose import diagnose
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.records import ErrorInfo, Run, StopReason
from nbgrad.report import Report

DEFAULT_STEPS = 10
DEFAULT_TIMEOUT_S = 60.0

_LAST: list[Report] = []
_CELL_COUNTER = itertools.count(1)

Progress = Callable[[int, int], None]


def last_report() -> Report | None:
    """The report of the latest run in this process (also of a run whose cell raised)."""
    return _LAST[-1] if _LAST else None


def _check_arguments(steps: Any, timeout: Any) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise NbgradUsageError(usage_message(
            f"steps must be a whole number of optimizer steps, at least 1 (got {steps!r}).",
            "pass how many optimizer steps to record; 10 is the default.",
            "nbgrad.gradcheck(cell, steps=10)"))
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        raise NbgradUsageError(usage_message(
            f"timeout must be a positive number of seconds (got {timeout!r}).",
            "pass the seconds to wait for an optimizer step before stopping the cell.",
            "nbgrad.gradcheck(cell, timeout=60)"))


class Check:
    """One run: install, let the user's code run, stop it, record, diagnose."""

    def __init__(self, *, steps: int, timeout: float | None, filename: str, source: str,
                 first_line: int, progress: Progress | None = None,
                 activations: bool = False) -> None:
        _check_arguments(steps, timeout)
        self.recorder = Recorder(filename, steps, activations)
        self.recorder.on_step = progress
        self.session = CaptureSession(self.recorder, timeout)
        self.filename = filename
        self.source = source
        self.first_line = first_line
        self.timeout = timeout
        self.report: Report | None = None
        self._started = 0.0

    def __enter__(self) -> Check:
        self._started = time.perf_counter()
        self.session.__enter__()
        return self

    def owns(self, error: BaseException) -> bool:
        """Whether a StopRun was meant for this check (nested checks pass on the outer's)."""
        if not isinstance(error, StopRun):
            return False
        if error.args:
            return error.args[0] is self.recorder
        return self.session.timed_out

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self.session.cancel_pending_stop()
        self.session.__exit__(kind, error, tb)
        stopped_by: StopReason = "finished"
        info = None
        if error is not None and self.owns(error):
            stopped_by = "timeout" if self.session.timed_out else self.recorder.stop_reason
        elif isinstance(error, KeyboardInterrupt):
            stopped_by = "interrupt"
        elif error is not None and not isinstance(error, StopRun):
            stopped_by = "error"
            info = ErrorInfo(type(error).__name__, str(error), self._error_line(tb))
        self.report = self._build(stopped_by, info, error, tb)
        _LAST[:] = [self.report]
        return error is not None and self.owns(error)

    def _error_line(self, tb: TracebackType | None) -> int | None:
        line = None
        for frame, lineno in traceback.walk_tb(tb):
            if frame.f_code.co_filename == self.filename:
                line = lineno
        return line

    def _build(self, stopped_by: StopReason, info: ErrorInfo | None,
               error: BaseException | None, tb: TracebackType | None = None) -> Report:
        elapsed = time.perf_counter() - self._started
        namespace = _with_frame_locals(self.namespace if hasattr(self, "namespace") else {},
                                       tb, self.filename)
        try:
            run = build_run(self.recorder, namespace, source=self.source,
                            first_line=self.first_line, timeout_s=self.timeout or 0.0,
                            stopped_by=stopped_by, elapsed_s=elapsed, error=info)
            failure = self.session.internal_error or self.recorder.probe.failure
            reason = None if failure is None else f"{type(failure).__name__}: {failure}"
            return Report(run=run, diagnoses=diagnose(run, error), analysis_error=reason)
        except Exception as failure:
            run = Run(source=self.source, first_line=self.first_line,
                      steps_requested=self.recorder.steps_requested,
                      timeout_s=self.timeout or 0.0, stopped_by=stopped_by, elapsed_s=elapsed,
                      error=info)
            return Report(run=run, diagnoses=[],
                          analysis_error=f"{type(failure).__name__}: {failure}")


def _with_frame_locals(namespace: Mapping[str, Any], tb: TracebackType | None,
                       filename: str) -> dict[str, Any]:
    """The namespace plus the local variables of the user's functions that the stop went through,
    so that a `def main(): model = ...` script or cell names `model` as the user does."""
    merged = dict(namespace)
    for frame, _ in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename and frame.f_locals is not frame.f_globals:
            merged.update(frame.f_locals)
    return merged


def _compile_cell(source: str, first_line: int) -> tuple[CodeType, str]:
    """Compile so that line numbers are those the user sees, and tracebacks can show the lines."""
    filename = f"<gradcheck-cell-{next(_CELL_COUNTER)}>"
    padded = "\n" * (first_line - 1) + source
    linecache.cache[filename] = (len(padded), None, padded.splitlines(True), filename)
    return compile(padded, filename, "exec"), filename


def gradcheck(source_or_callable: str | Callable[[], Any], steps: int = DEFAULT_STEPS, *,
              namespace: dict[str, Any] | None = None, timeout: float | None = DEFAULT_TIMEOUT_S,
              first_line: int = 1, progress: Progress | None = None,
              activations: bool = False) -> Report:
    """Run a training cell (source) or function for `steps` optimizer steps and report on them.

    The code runs in `namespace` (a fresh one when None; the magic passes the user's). The user's
    own exception propagates unchanged once the report of the steps before it is stored
    (`last_report()`). The first and last steps are watched in detail; `activations=True` also
    records activation statistics on every step in between (slower).
    """
    __tracebackhide__ = True
    if callable(source_or_callable):
        func = source_or_callable
        code_obj = getattr(func, "__code__", None)
        filename = code_obj.co_filename if code_obj else "<callable>"
        first = code_obj.co_firstlineno if code_obj else 1
        lines = linecache.getlines(filename)
        source = "".join(lines[first - 1:]) if lines else ""
        check = Check(steps=steps, timeout=timeout, filename=filename, source=source,
                      first_line=first, progress=progress, activations=activations)
        run_target: Callable[[], Any] = func
        check.namespace = namespace if namespace is not None else getattr(func, "__globals__", {})
    elif isinstance(source_or_callable, str):
        _check_arguments(steps, timeout)
        code, filename = _compile_cell(source_or_callable, first_line)
        ns = namespace if namespace is not None else {"__name__": "__main__"}
        check = Check(steps=steps, timeout=timeout, filename=filename, source=source_or_callable,
                      first_line=first_line, progress=progress, activations=activations)
        check.namespace = ns

        def run_target() -> None:
            exec(code, ns)
    else:
        raise NbgradUsageError(usage_message(
            f"gradcheck() takes the source of a cell or a function, not {type(source_or_callable).__name__}.",
            "pass the training code as a string, or a function with no arguments that runs it.",
            "nbgrad.gradcheck('for x, y in loader: ...', steps=10)"))
    with check:
        run_target()
    assert check.report is not None
    return check.report


class capture:
    """`with nbgrad.capture(steps=5) as check:` records the training loop inside the block.

    The block ends quietly after `steps` optimizer steps; `check.report` holds the report after it.
    """

    def __init__(self, steps: int = DEFAULT_STEPS, *, timeout: float | None = None,
                 namespace: Mapping[str, Any] | None = None, progress: Progress | None = None,
                 activations: bool = False) -> None:
        _check_arguments(steps, timeout)
        self._steps, self._timeout, self._progress = steps, timeout, progress
        self._activations = activations
        self._namespace = namespace
        self._check: Check | None = None

    @property
    def report(self) -> Report | None:
        return None if self._check is None else self._check.report

    def __enter__(self) -> capture:
        caller = sys._getframe(1)
        filename = caller.f_code.co_filename
        source = "".join(linecache.getlines(filename))
        self._check = Check(steps=self._steps, timeout=self._timeout, filename=filename,
                            source=source, first_line=1, progress=self._progress,
                            activations=self._activations)
        self._check.namespace = dict(self._namespace if self._namespace is not None
                                     else caller.f_globals)
        self._check.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        assert self._check is not None
        if self._namespace is None:
            self._check.namespace.update(sys._getframe(1).f_locals)
        return self._check.__exit__(kind, error, tb)
