"""The Python API: `gradcheck()` for a cell or function, `capture()` for a block in a script.

Both drive one `Check`, which owns the capture session of a run and turns it into a `Report`. A check
leaves the notebook as it was: the training objects that existed before the cell are restored after
it (unless `keep=True`), on every way out (steps done, cell finished, user exception, Ctrl-C,
timeout), once the records are built. A Ctrl-C that comes once the user's code is over waits until
the report is stored and the state put back, then is raised (capture/interrupts.py).
"""

from __future__ import annotations

import itertools
import linecache
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from types import CodeType, FrameType, TracebackType
from typing import Any

from nbgrad import options
from nbgrad import verify as verifying
from nbgrad.capture import CaptureSession, StopRun, interrupts, naming, session, snapshot
from nbgrad.capture.finish import build_run
from nbgrad.capture.recorder import Recorder
from nbgrad.capture.stop import Stop
from nbgrad.diagnose import diagnose
from nbgrad.distributed import rank_run
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.records import ErrorInfo, RestoreInfo, Run, StopReason
from nbgrad.report import Report

DEFAULT_STEPS: int = options.DEFAULTS["steps"]
DEFAULT_TIMEOUT_S: float = options.DEFAULTS["timeout"]

_LAST: list[Report] = []
_CELL_COUNTER = itertools.count(1)

Progress = Callable[[int, int], None]


def last_report() -> Report | None:
    """The report of the latest run in this process (also of a run whose cell raised)."""
    return _LAST[-1] if _LAST else None


KEEP_REASON = "asked to keep them (--keep / keep=True): the recorded steps really happened"
FAILED_REASON = ("nbgrad failed and let the cell run on unstopped, "
                 "as it would without nbgrad; its changes were kept")


class Check:
    """One run: snapshot, install, let the user's code run, stop it, record, diagnose, restore."""

    def __init__(self, *, steps: int, timeout: float | None, filename: str, source: str,
                 first_line: int, progress: Progress | None = None, keep: bool = False,
                 activations: bool = False) -> None:
        options.check_api(steps=steps, timeout=timeout, keep=keep, activations=activations)
        self.stop = Stop(steps, timeout)  # decides when the run ends, and says why
        self.recorder = Recorder(filename, self.stop, activations)
        self.recorder.on_step = progress
        self.interrupts = interrupts.Interrupts()
        self.session = CaptureSession(self.recorder, self.interrupts)
        self.filename = filename
        self.source = source
        self.first_line = first_line
        self.timeout = timeout
        self.keep = keep
        self.namespace: Mapping[str, Any] = {}
        self.extra_objects: list[tuple[str, Any]] = []  # e.g. the variables a function closes over
        self.report: Report | None = None
        self.snapshot: snapshot.Snapshot | None = None
        self.failure: BaseException | None = None  # nbgrad's own, before the cell ran
        self._installed = False
        self._started = 0.0
        self.earlier: list[tuple[str, Any]] = []
        self.quiz = False  # an exercise: the report hides causes and fixes until revealed
        self.ranks = rank_run(self)  # in a process of a torchrun job: the cross-rank part

    # -- running ----------------------------------------------------------------------------
    def run(self, target: Callable[[], Any]) -> Any:
        """Run `target` under the check; re-raise its exception (same object) once reported."""
        __tracebackhide__ = True
        error: BaseException | None = None
        result = None
        self.prepare()
        try:
            try:
                self.start(sys._getframe())
                result = target()
            except BaseException as caught:
                error = caught
            self.settle()
        except StopRun as late:  # the timeout's StopRun, landed after the cell ended
            if error is None and late.__context__ is not None:
                error = late.__context__
            self.settle()
        if not self.finish(error) and error is not None:
            raise error
        return result

    def prepare(self) -> None:
        """Snapshot what the cell may change. Raises NbgradUsageError when it cannot fit in
        memory (before anything ran); a bug here is noted, and the cell then runs plain."""
        self._started = time.perf_counter()
        try:  # which model each name held before the cell: to name an old model's parameters
            self.earlier = naming.bindings(self.namespace)
        except Exception:  # a namespace that cannot be listed: names are then just less helpful
            self.earlier = []
        if self.keep:
            return
        try:
            self.snapshot = snapshot.take(self.namespace, self.extra_objects, self.source)
        except NbgradUsageError:
            raise
        except Exception as failure:
            self.failure = failure

    def start(self, boundary: FrameType | None) -> None:
        """Install the instrumentation; after a failure here (or in prepare) the cell runs plain.
        The user's code runs right after this returns."""
        if self.failure is None:
            try:
                self.session.guard.boundary = boundary
                self.session.__enter__()
                self._installed = True
                if self.ranks is not None:
                    self.ranks.start()
            except Exception as failure:
                self.failure = failure
        self.interrupts.install(self.session.interrupt_later if self._installed else None)

    def settle(self) -> None:
        """The user's code is over: stop the watchdog and the guard, hold Ctrl-C until the end.
        An asynchronous StopRun (sent to a thread other than the main one) that lands in here is
        the last one."""
        self.interrupts.user_code_over()
        while True:
            try:
                self.session.cancel_pending_stop()
                break
            except StopRun:
                continue
        if self._installed:
            self.session.stop_workers(session.TIMEOUT_GRACE_S)

    def __enter__(self) -> Check:
        self.prepare()
        self._start_block(sys._getframe(1).f_back)
        return self

    def _start_block(self, boundary: FrameType | None) -> None:
        """`start` for a with-block: a Ctrl-C while installing must not leave anything installed
        (a with-statement does not call `__exit__` when `__enter__` raised)."""
        try:
            self.start(boundary)
        except BaseException as error:
            self.settle()
            self.finish(error)
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        __tracebackhide__ = True
        self.settle()
        return self.finish(error)

    def owns(self, error: BaseException | None) -> bool:
        """Whether a StopRun was meant for this check (nested checks pass on the outer's)."""
        return self.stop.owns(error)

    # -- after the cell -----------------------------------------------------------------------
    def finish(self, error: BaseException | None) -> bool:
        """Remove everything, build the report, restore; True when `error` was our own stop."""
        __tracebackhide__ = True
        try:
            self._uninstall()
            stopped_by = self.stop.outcome(error)
            info = None
            if stopped_by == "error" and error is not None:
                info = ErrorInfo(type(error).__name__, str(error),
                                 self._error_line(error.__traceback__))
            self.report = self._build(stopped_by, info, error,
                                      None if error is None else error.__traceback__)
        finally:
            try:
                restore = self._restore()
                if self.report is not None:
                    self.report.run.restore = restore
                if self.ranks is not None:  # rank 0 of a torchrun job: merged with the others
                    self.report = self.ranks.finish(self.report, error)
                    if self.report is not None:  # the merged report is the same exercise
                        self.report.quiz = self.quiz
                if self.report is not None:
                    _LAST[:] = [self.report]
            finally:
                held = self.interrupts.remove() + self.stop.unraised_interrupt()
        if held and not isinstance(error, KeyboardInterrupt):
            interrupt = KeyboardInterrupt()
            interrupt.__context__ = None if self.owns(error) else error
            raise interrupt
        return self.owns(error)

    def _uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        try:
            self.session.__exit__(None, None, None)
        except Exception as failure:  # a bug in removing: say so, never hide the cell's result
            self.failure = self.failure or failure

    def _restore(self) -> RestoreInfo:
        if self.keep:
            return RestoreInfo(mode="kept", reason=KEEP_REASON)
        if self.snapshot is None:
            return RestoreInfo(mode="kept", reason=FAILED_REASON)
        if self.session.internal_error is not None:
            self.snapshot.discard()
            return RestoreInfo(mode="kept", reason=FAILED_REASON)
        try:
            return self.snapshot.restore()
        except Exception as failure:  # restore() guards each object; this is a bug in it
            return RestoreInfo(mode="restored", failed=[f"{type(failure).__name__}: {failure}"])

    def _error_line(self, tb: TracebackType | None) -> int | None:
        line = None
        for frame, lineno in traceback.walk_tb(tb):
            if frame.f_code.co_filename == self.filename:
                line = lineno
        return line

    def _analysis_error(self) -> str | None:
        failure = self.failure or self.session.internal_error or self.recorder.probe.failure
        return None if failure is None else f"{type(failure).__name__}: {failure}"

    def _build(self, stopped_by: StopReason, info: ErrorInfo | None,
               error: BaseException | None, tb: TracebackType | None = None) -> Report:
        elapsed = time.perf_counter() - self._started
        try:
            namespace = _with_frame_locals(self.namespace, tb, self.filename)
            run = build_run(self.recorder, namespace, source=self.source,
                            first_line=self.first_line, timeout_s=self.timeout or 0.0,
                            stopped_by=stopped_by, elapsed_s=elapsed, error=info,
                            earlier=self.earlier)
            failed = self._analysis_error()
            # records cut short by nbgrad's own failure would make rules report what did not
            # happen (no step seen, say): no diagnosis from them
            return Report(run=run, diagnoses=[] if failed else diagnose(run, error),
                          analysis_error=failed, quiz=self.quiz)
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


def _compile_cell(source: str, first_line: int, filename: str | None = None
                  ) -> tuple[CodeType, str]:
    """Compile so that line numbers are those the user sees, and tracebacks can show the lines."""
    __tracebackhide__ = True
    filename = filename or f"<gradcheck-cell-{next(_CELL_COUNTER)}>"
    padded = "\n" * (first_line - 1) + source
    linecache.cache[filename] = (len(padded), None, padded.splitlines(True), filename)
    return compile(padded, filename, "exec", dont_inherit=True), filename


def gradcheck(source_or_callable: str | Callable[[], Any], steps: int = DEFAULT_STEPS, *,
              namespace: dict[str, Any] | None = None, timeout: float | None = DEFAULT_TIMEOUT_S,
              keep: bool = False, activations: bool = False, verify: bool = False,
              quiz: bool = False,
              progress: Progress | None = None, first_line: int = 1, filename: str | None = None,
              execute: Callable[[], object] | None = None,
              recompile: verifying.Compiler | None = None) -> Report:
    """Run a training cell (source) or function for `steps` optimizer steps and report on them.

    The code runs in `namespace` (a fresh one when None; the magic passes the user's). Models,
    optimizers, schedulers, GradScalers and RNG states that existed before are restored afterwards,
    in place (`keep=True`: leave the steps' changes); names the code (re)binds keep their new
    values. The user's own exception propagates unchanged once the report of the steps before it
    is stored (`last_report()`). A cell that never steps is stopped after `timeout` seconds
    without one (None: no limit). The first and last steps are watched in detail;
    `activations=True` also records activation statistics on every step (slower).
    `verify=True` then tries each fix that is code from the state before the cell (nbgrad/verify.py);
    without it, the report's dashboard offers that trial on demand. `quiz=True` makes the report an
    exercise: symptoms shown, causes and fixes hidden until `nbgrad.reveal()` or the dashboard's
    Reveal.

    For adapters: `first_line` is the number of the source's first line; `filename` names the
    compiled cell in tracebacks (the magic gives IPython's, so errors read "Cell In[5], line 3");
    `execute` runs the cell instead of compiling the source as plain Python (the magic passes
    IPython's own compilation: line magics, `!shell`, top-level await), compiled as `filename`;
    `recompile` compiles another version of the cell the same way, for the fixes' trials.
    """
    __tracebackhide__ = True
    options.check_api(steps=steps, timeout=timeout, keep=keep, activations=activations,
                      verify=verify, quiz=quiz)
    if verify and keep:
        raise NbgradUsageError(usage_message(
            "verify and keep cannot be combined: a fix is tried from the state before the cell, "
            "which keep=True gives up.",
            "leave keep out to try the fixes (the state is restored after each trial).",
            "nbgrad.gradcheck(cell, verify=True)"))
    compiler: verifying.Compiler | None = None
    if isinstance(source_or_callable, str):
        ns = namespace if namespace is not None else {"__name__": "__main__"}
        if execute is not None:
            if filename is None:
                raise NbgradUsageError(usage_message(
                    "execute= needs the filename its code was compiled under.",
                    "pass filename= with the name given to compile().",
                    "nbgrad.gradcheck(cell, filename=name, execute=run)"))
            name, run_target = filename, execute
        else:
            code, name = _compile_cell(source_or_callable, first_line, filename)

            def run_target() -> None:
                __tracebackhide__ = True
                exec(code, ns)
        compiler = recompile or _source_compiler(ns, first_line)
        check = Check(steps=steps, timeout=timeout, filename=name, source=source_or_callable,
                      first_line=first_line, progress=progress, keep=keep,
                      activations=activations)
        check.namespace = ns
    elif callable(source_or_callable):
        func = source_or_callable
        code_obj = getattr(func, "__code__", None)
        name = code_obj.co_filename if code_obj else "<callable>"
        first = code_obj.co_firstlineno if code_obj else 1
        lines = linecache.getlines(name)
        source = "".join(lines[first - 1:]) if lines else ""
        check = Check(steps=steps, timeout=timeout, filename=name, source=source,
                      first_line=first, progress=progress, keep=keep, activations=activations)
        run_target = func
        check.namespace = namespace if namespace is not None else getattr(func, "__globals__", {})
        check.extra_objects = [(getattr(func, "__name__", "function"), func)]
    else:
        raise NbgradUsageError(usage_message(
            f"gradcheck() takes the source of a cell or a function, not {type(source_or_callable).__name__}.",
            "pass the training code as a string, or a function with no arguments that runs it.",
            "nbgrad.gradcheck('for x, y in loader: ...', steps=10)"))
    check.quiz = quiz
    with verifying.trials(check, compiler, verify=verify, progress=progress):
        check.run(run_target)
    assert check.report is not None
    return check.report


def _source_compiler(namespace: dict[str, Any], first_line: int) -> verifying.Compiler:
    """Compile another version of a cell as `gradcheck` compiles one given as source."""
    def compile_source(source: str) -> tuple[str, Callable[[], object]]:
        code, name = _compile_cell(source, first_line)

        def run() -> None:
            __tracebackhide__ = True
            exec(code, namespace)
        return name, run
    return compile_source


class capture:
    """`with nbgrad.capture(steps=5) as check:` records the training loop inside the block.

    The block ends quietly after `steps` optimizer steps (or `timeout` seconds without one);
    `check.report` holds the report after it. What existed before the block is restored after it,
    as with `gradcheck` (`keep=True`: not). `quiz=True` makes the report an exercise, as
    `%%gradcheck --quiz` does: symptoms shown, causes and fixes hidden until `nbgrad.reveal()`.

    In a thread other than the main one the timeout's stop is an asynchronous exception, which
    could in principle land in the few instructions between the block's end and `__exit__`; in the
    main thread (a script, a notebook) it cannot.
    """

    def __init__(self, steps: int = DEFAULT_STEPS, *, timeout: float | None = None,
                 namespace: Mapping[str, Any] | None = None, progress: Progress | None = None,
                 keep: bool = False, activations: bool = False, quiz: bool = False) -> None:
        options.check_api(steps=steps, timeout=timeout, keep=keep, activations=activations,
                          quiz=quiz)
        self._steps, self._timeout, self._progress = steps, timeout, progress
        self._namespace = namespace
        self._keep = keep
        self._activations = activations
        self._quiz = quiz
        self._check: Check | None = None

    @property
    def report(self) -> Report | None:
        return None if self._check is None else self._check.report

    def __enter__(self) -> capture:
        caller = sys._getframe(1)
        filename = caller.f_code.co_filename
        source = "".join(linecache.getlines(filename))
        self._check = Check(steps=self._steps, timeout=self._timeout, filename=filename,
                            source=source, first_line=1, progress=self._progress, keep=self._keep,
                            activations=self._activations)
        self._check.quiz = self._quiz
        namespace = dict(self._namespace if self._namespace is not None else caller.f_globals)
        if self._namespace is None and caller.f_locals is not caller.f_globals:
            namespace.update(caller.f_locals)
        self._check.namespace = namespace
        self._check.prepare()
        self._check._start_block(caller.f_back)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        __tracebackhide__ = True
        assert self._check is not None
        self._check.settle()
        if self._namespace is None:
            self._check.namespace.update(sys._getframe(1).f_locals)  # type: ignore[attr-defined]
        return self._check.finish(error)
