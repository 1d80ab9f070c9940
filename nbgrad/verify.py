"""Try the fixes: run the corrected cell from the state before the cell, and compare.

After a check, the state the cell started from is back: the check restored the models,
optimizers, schedulers, scalers and RNG it snapshotted. A trial puts back the names the cell
(re)bound too, then runs a corrected copy of the cell as a check of its own (same steps, same
timeout, same namespace), whose own snapshot restores everything again afterwards; the names
are then bound as the check left them. So a trial starts where the cell started (the same data
order, the same dropout masks) and leaves the notebook as the check left it.

`%%gradcheck --verify` (`verify=True`, `nbgrad check --verify`) tries every error's and warning's
fix right after the check: each fix alone (a learning-rate fix as a sweep of 3 to 5 rates), then
all of them together when there are several. Each trial is one check with the cell's --steps and
--timeout, and no trial starts once (number of trials + 1) x the check's time is spent; the
progress bar says which trial runs ("trying the fix of NBG301 (1 of 3)"), and Ctrl-C stops the
trials and keeps the report of those that finished. Without the flag nothing extra runs: the
dashboard's "Try the fix" button runs the same trial on demand. If what the cell reads changed
since the check (another cell trained its model, drew random numbers, re-bound one of its names),
such a trial runs the cell itself again first, from the objects as they are now, so that both runs
start from the same state.

Decisions (resolved? did the loss improve? the verdict) are made in
`nbgrad.diagnose.verification`; this module only runs code.
"""

from __future__ import annotations

import ast
import hashlib
import pickle
import random
import sys
import time
import weakref
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbgrad.capture import interrupts
from nbgrad.diagnose import fixes, verification
from nbgrad.diagnose.diagnosis import Diagnosis, Edit, TrialSet, Verification
from nbgrad.diagnose.fixes import rates
from nbgrad.records import Trial

if TYPE_CHECKING:
    from nbgrad.api import Check
    from nbgrad.report import Report

# source -> (filename, what runs it in the namespace): how the entry point compiles a cell
Compiler = Callable[[str], tuple[str, Callable[[], object]]]
Progress = Callable[[int, int], None]
MISSING = object()
_DEAD = object()
MIN_CHECK_S = 1.0  # the least a check is taken to cost when it ended at once (it raised)


class OutOfTime(Exception):
    """The trials' time budget, (number of trials + 1) x the check's time, is spent."""


class _Held:
    """A value the cell re-bound a name away from: held weakly where Python allows, so that an old
    model the cell replaced is freed as it would be without nbgrad."""

    def __init__(self, value: Any) -> None:
        try:
            self._ref: Callable[[], Any] = weakref.ref(value)
        except TypeError:
            self._ref = lambda: value

    def get(self) -> Any:
        value = self._ref()
        return _DEAD if value is None else value


def _rng_digest() -> str:
    """A fingerprint of the global random generators' states."""
    import torch

    parts: list[Any] = [torch.get_rng_state().numpy().tobytes(), random.getstate()]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        parts.append(numpy.random.get_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        parts += [s.numpy().tobytes() for s in torch.cuda.get_rng_state_all()]
    return hashlib.sha1(pickle.dumps(parts)).hexdigest()


@dataclass
class StateMark:
    """Whether the user's state is still the one a check left: the RNG states, what the names the
    cell reads are bound to, and the version counter of each tensor behind them (an in-place
    change, a training step, bumps it)."""

    rng: str
    names: dict[str, int]
    read: frozenset[str] | None  # the names the cell reads; None: all (it is not plain Python)
    tensors: list[tuple[weakref.ref[Any], int]] = field(default_factory=list)

    @classmethod
    def now(cls, namespace: MutableMapping[str, Any], read: frozenset[str] | None) -> StateMark:
        refs = [(weakref.ref(t), t._version) for t in _watched(namespace, read)]
        return cls(_rng_digest(), _ids(namespace, read), read, refs)

    def holds(self, namespace: MutableMapping[str, Any]) -> bool:
        if _rng_digest() != self.rng or _ids(namespace, self.read) != self.names:
            return False
        return all((t := ref()) is not None and t._version == version
                   for ref, version in self.tensors)


def _watched(namespace: MutableMapping[str, Any], read: frozenset[str] | None) -> list[Any]:
    """The tensors behind the names the cell reads: a model's parameters and buffers, an
    optimizer's parameters and state, tensors, also inside a list, tuple or dict of them."""
    import torch

    found: dict[int, Any] = {}

    def add(value: Any, depth: int = 0) -> None:
        if isinstance(value, torch.Tensor):
            found.setdefault(id(value), value)
        elif isinstance(value, torch.nn.Module):
            for t in [*value.parameters(), *value.buffers()]:
                found.setdefault(id(t), t)
        elif isinstance(value, torch.optim.Optimizer):
            for group in value.param_groups:
                for p in group["params"]:
                    add(p)
            for state in value.state.values():
                for t in state.values():
                    add(t)
        elif depth < 2 and isinstance(value, (list, tuple)):
            for item in value[:1000]:
                add(item, depth + 1)
        elif depth < 2 and isinstance(value, dict):
            for item in list(value.values())[:1000]:
                add(item, depth + 1)

    for name, value in list(namespace.items()):
        if read is None or name in read:
            try:
                add(value)
            except Exception:  # an object that cannot be walked is not watched
                continue
    return list(found.values())


def _ids(namespace: MutableMapping[str, Any], read: frozenset[str] | None) -> dict[str, int]:
    return {k: id(v) for k, v in list(namespace.items())
            if (k in read if read is not None else not k.startswith("_"))}


def read_names(source: str) -> frozenset[str] | None:
    """The names a cell reads before (or without) binding them: another cell re-binding any other
    name cannot change what the cell does. None when the cell is not plain Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    loaded: set[str] = set()
    stored: set[str] = set()
    itself: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            itself.add(node.target.id)  # total += ...: reads what it re-binds
        elif isinstance(node, ast.Assign):
            targets = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            itself |= targets & {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    return frozenset((loaded - stored) | itself)


@dataclass
class Cell:
    """How to run another version of the checked cell as the check ran it."""

    namespace: MutableMapping[str, Any]
    before: dict[str, _Held]  # the names the cell (re)bound, as they were before it
    first_line: int
    steps: int
    timeout: float | None
    activations: bool
    compile: Compiler


def _rebind(namespace: MutableMapping[str, Any], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if value is MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value


def _refill(namespace: MutableMapping[str, Any], bindings: dict[str, Any]) -> None:
    """Make `namespace` bind exactly `bindings` again, in place (its identity is the user's)."""
    for name in [k for k in namespace if k not in bindings]:
        del namespace[name]
    for name, value in bindings.items():
        if namespace.get(name, MISSING) is not value:
            namespace[name] = value


class Trials:
    """Runs the fixes of one report: all of them (`--verify`), or one on demand (the buttons)."""

    def __init__(self, report: Report, cell: Cell) -> None:
        self.report = report
        self.cell = cell
        self.read = read_names(report.run.source)
        self.mark = StateMark.now(cell.namespace, self.read)
        self.changed = False  # the objects changed since the check: no trial starts from it
        self.deadline: float | None = None  # no trial starts after it (perf_counter seconds)

    # -- what can be tried -------------------------------------------------------------------
    def can_try(self, d: Diagnosis) -> bool:
        """An error or warning whose fix is code, not tried yet."""
        return d.severity in verification.PROBLEMS and bool(d.edits) and d.verification is None

    def fixable(self) -> list[Diagnosis]:
        """The diagnoses whose fix can be tried, in the report's order."""
        return [d for d in self.report.diagnoses if self.can_try(d)]

    def _problems(self) -> set[str]:
        return {d.code for d in self.report.diagnoses if d.severity in verification.PROBLEMS}

    def check_s(self) -> float:
        """What one run of the cell costs: the check's time, for all its steps when it stopped
        early, and at least MIN_CHECK_S."""
        run = self.report.run
        done = len(run.steps) or len(run.manual_steps)
        scale = run.steps_requested / done if 0 < done < run.steps_requested else (
            run.steps_requested if done == 0 else 1)
        return max(run.elapsed_s * scale, MIN_CHECK_S)

    def budget(self, trials: int) -> float:
        """The deadline for `trials` trials from now: (trials + 1) x the check's time."""
        return time.perf_counter() + (trials + 1) * self.check_s()

    def planned(self, diagnoses: list[Diagnosis]) -> int:
        """Trials the diagnoses take: one each, a sweep's rates, and one with all of them (and
        the cell itself again before each, when the state changed since the check)."""
        run = self.report.run
        count = sum(len(rates.candidates(run, d)) or 1 for d in diagnoses)
        again = 0 if self._starts_fresh() else len(diagnoses)
        return count + again + (1 if len(diagnoses) > 1 else 0)

    # -- running -----------------------------------------------------------------------------
    def try_fix(self, d: Diagnosis, progress: Progress | None = None,
                counter: list[int] | None = None, total: int | None = None) -> Verification:
        """Try `d`'s fix (a sweep for a learning rate) and attach the verification to it."""
        run = self.report.run
        counter = counter if counter is not None else [0]
        sweep = rates.candidates(run, d)
        total = total or (len(sweep) or 1) + (0 if self._starts_fresh() else 1)
        own_budget = self.deadline is None
        if own_budget:
            self.deadline = self.budget(total)
        try:
            return self._try_fix(d, progress, counter, total, sweep)
        finally:
            if own_budget:
                self.deadline = None

    def _try_fix(self, d: Diagnosis, progress: Progress | None, counter: list[int], total: int,
                 sweep: list[tuple[float, Edit]]) -> Verification:
        run = self.report.run
        fresh = self._starts_fresh()
        owner = verification.owner_of(run, d)
        baseline = None
        if not fresh:
            baseline = self._run(run.source, "your cell again", [], progress, counter, total,
                                 "running your cell again (your objects changed since the check)",
                                 rebind=False, owner=owner)
        if sweep:
            tried: list[Trial] = []
            try:
                for rate, edit in sweep:
                    tried.append(self._run(
                        fixes.apply(run.source, [edit], run.first_line, [fixes.note(d)]),
                        f"lr={rates.literal(rate)}", [edit], progress, counter, total,
                        f"trying lr={rates.literal(rate)} for {d.code}", lr=rate, rebind=fresh,
                        owner=owner))
            except OutOfTime:
                if not tried:
                    raise
                sweep = sweep[:len(tried)]  # the rates tried before the budget was spent
            best = verification.best_rate(self._problems(), tried)
            result = verification.judge(run, self._problems(), d, tried[best], candidates=tried,
                                        baseline=baseline)
            if tried[best].ran:
                self._suggest(d, sweep[best][1])
        else:
            trial = self._run(fixes.corrected_source(run, [d]), d.code, fixes.edits_of(run, d),
                              progress, counter, total, f"trying the fix of {d.code}",
                              rebind=fresh, owner=owner)
            result = verification.judge(run, self._problems(), d, trial, baseline=baseline)
        verification.settle(d, result)
        self._remark()
        return result

    def _starts_fresh(self) -> bool:
        """Whether a trial can start from the state before the cell (nothing the cell reads has
        changed since the check); once it cannot, it never can again."""
        self.changed = self.changed or not (self.mark.holds(self.cell.namespace)
                                             and self._before_alive())
        return not self.changed

    def _remark(self) -> None:
        """After trials from the state before the cell, that state is back (their checks put it
        back, bumping the tensors' version counters): mark it again."""
        if not self.changed:
            self.mark = StateMark.now(self.cell.namespace, self.read)

    def _suggest(self, d: Diagnosis, edit: Edit) -> None:
        """A sweep's best rate becomes the suggested line."""
        d.edits = [edit]
        d.fix_code = edit.code

    def try_all(self, progress: Progress | None = None) -> TrialSet | None:
        """Each fix alone, then all together; Ctrl-C stops the trials and keeps what finished.
        None (and no summary) when there is no fix to try."""
        started = time.perf_counter()
        todo = self.fixable()
        if not todo:
            return None
        planned = self.planned(todo)
        counter = [0]
        stopped = ""
        together: Trial | None = None
        left_out: list[str] = []
        self.deadline = self.budget(planned)
        try:
            for d in todo:
                self.try_fix(d, progress, counter, planned)
            tried = [d for d in todo if d.verification is not None and d.verification.trial.ran]
            if len(todo) > 1 and len(tried) > 1:
                run = self.report.run
                joined, left = fixes.combined(run, tried)
                left_out = [d.code for d in left]
                if len(joined) > 1:
                    edits = [e for d in joined for e in fixes.edits_of(run, d)]
                    together = self._run(fixes.corrected_source(run, joined), "all fixes",
                                         edits, progress, counter, planned,
                                         "trying all fixes together", rebind=not self.changed)
        except KeyboardInterrupt:
            stopped = f"interrupted (Ctrl-C) after {counter[0] - 1} of {planned} trials"
        except OutOfTime:
            stopped = (f"the time budget, {planned + 1} x the check's {self.check_s():.1f} s, "
                       f"was spent after {counter[0]} of {planned} trials")
        finally:
            from nbgrad import api

            self.deadline = None
            api._LAST[:] = [self.report]  # the trials' checks do not replace the cell's report
        summary = verification.summarize(todo, self._problems(), together, left_out=left_out,
                                         tried=counter[0], planned=planned, stopped=stopped,
                                         elapsed_s=time.perf_counter() - started)
        self.report.verification = summary
        self._remark()
        return summary

    def _before_alive(self) -> bool:
        return all(h.get() is not _DEAD for h in self.cell.before.values())

    def _run(self, source: str, label: str, edits: list[Edit], progress: Progress | None,
             counter: list[int], total: int, what: str, lr: float | None = None,
             rebind: bool = True, owner: str | None = None) -> Trial:
        """One trial: `source` run as a check from the state before the cell (the names the cell
        re-bound put back when `rebind`), then every name bound as before the trial."""
        from nbgrad import api

        changed = sorted({e.line for e in edits})
        change = verification.change_of(edits, lr)
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise OutOfTime
        counter[0] += 1
        stage = getattr(progress, "stage", None)
        if callable(stage):
            stage(f"{what} ({counter[0]} of {total})")
        cell = self.cell
        namespace = cell.namespace
        now = dict(namespace)
        check = None
        try:
            with interrupts.holding():
                if rebind:
                    _rebind(namespace, {k: h.get() for k, h in cell.before.items()})
            filename, target = cell.compile(source)
            check = api.Check(steps=cell.steps, timeout=cell.timeout, filename=filename,
                              source=source, first_line=cell.first_line, progress=progress,
                              activations=cell.activations)
            check.namespace = namespace
            try:
                check.run(target)
            except KeyboardInterrupt:
                raise
            except BaseException:
                pass
        except SyntaxError as error:  # the corrected cell does not compile
            from nbgrad.records import ErrorInfo

            return Trial(label=label, source=source, changed=changed, change=change,
                         steps_requested=cell.steps,
                         stopped_by="error", elapsed_s=0.0,
                         error=ErrorInfo("SyntaxError", str(error.msg), error.lineno), lr=lr)
        finally:
            with interrupts.holding():
                _refill(namespace, now)
            api._LAST[:] = [self.report]
        report = check.report
        assert report is not None
        return verification.trial_of(report.run, report.diagnoses, report.analysis_error,
                                     label=label, changed=changed, change=change, lr=lr,
                                     owner=owner)


NOT_TRIED_KEEP = ("not tried: --keep kept the steps' changes, so the state before the cell is "
                  "gone; run the check without --keep to try the fixes")
NOT_TRIED_FUNCTION = ("not tried: nbgrad corrects a cell's source, and this check ran a function; "
                      "check the cell (or the source as a string) to try the fixes")
NOT_TRIED_RESTORE = ("not tried: nbgrad could not restore the state before the cell, so a trial "
                     "would not start from it")


@contextmanager
def trials(check: Check, compile: Compiler | None, *, verify: bool = False,
           progress: Progress | None = None) -> Iterator[None]:
    """Around a check: note the names bound before it, and after it give its report what runs
    the fixes (the dashboard's buttons), running them all at once with `verify`."""
    bindings = dict(check.namespace) if compile is not None else {}
    try:
        yield
    finally:
        report = check.report
        if report is not None:
            _attach(check, report, compile, bindings, verify, progress)


def _attach(check: Check, report: Report, compile: Compiler | None, bindings: dict[str, Any],
            verify: bool, progress: Progress | None) -> None:
    reason = (NOT_TRIED_FUNCTION if compile is None else NOT_TRIED_KEEP if check.keep else
              NOT_TRIED_RESTORE if check.snapshot is None or report.analysis_error is not None
              or (report.run.restore is not None and report.run.restore.failed) else "")
    if reason:
        if verify:
            report.verification = TrialSet(verdict=f"Fixes were {reason}.", best="")
        return
    assert compile is not None and check.snapshot is not None
    namespace = check.namespace
    assert isinstance(namespace, MutableMapping)
    # the names the cell bound anew, re-bound or deleted, as they were before it
    rebound = {name: _Held(bindings.get(name, MISSING)) for name, value in list(namespace.items())
               if bindings.get(name, MISSING) is not value}
    rebound.update({name: _Held(value) for name, value in bindings.items() if name not in namespace})
    cell = Cell(namespace, rebound, check.first_line, report.run.steps_requested, check.timeout,
                report.run.forward.every_step, compile)
    runner = Trials(report, cell)
    report.trials = runner
    if verify and report.run.stopped_by != "interrupt":
        try:
            runner.try_all(progress)
        except Exception as failure:  # a bug of nbgrad's in the trials: said, never raised
            report.verification = TrialSet(
                verdict=f"nbgrad could not try the fixes: {type(failure).__name__}: {failure}",
                best="")
