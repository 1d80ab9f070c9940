"""Fixes as code: the edits of the cell each diagnosis proposes, and the corrected cell.

This package is the one place where a diagnosis becomes changed code. A rule says what to change
and, where it is one line, writes that line (`Diagnosis.fix_code` at `Diagnosis.line`); `settle()`
turns every diagnosis into its edits (`Diagnosis.edits`): the rule's line where it is the whole
fix, or what `by_code` finds from the records where it is not (every line that cuts the loss from
the model, the user's own names at the call that needs the change, the class's `__init__`), and
says where the fix belongs when it is outside the cell. `Diagnosis.fix_code` then shows exactly
what the edits write, so the words, the code and the corrected cell never disagree.

A corrected cell is only *proposed* here; it is offered (the dashboard's button) once it ran
under a check without error (nbgrad/verify.py). Pure string work, no IPython, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from nbgrad.diagnose.diagnosis import Diagnosis, Edit
from nbgrad.diagnose.fixes import by_code, data, rates
from nbgrad.diagnose.fixes.by_code import Fix
from nbgrad.diagnose.fixes.edits import apply, describe, fix_mode, kind_of, shown, statement
from nbgrad.records import Run

__all__ = ["apply", "apply_fix", "combined", "corrected_cell", "corrected_source", "describe",
           "edits_of", "fix_mode", "magic_line", "note", "offered_cell", "rates", "settle"]


FIXERS = {**by_code.FIXERS, **data.FIXERS}


def note(d: Diagnosis) -> str:
    """The comment above a change in the corrected cell: which diagnosis made it."""
    return f"nbgrad {d.code} {d.slug}: suggested fix"


def _default(run: Run, d: Diagnosis) -> Fix | None:
    """The rule's own line of code, where it goes (replace, before or after the line)."""
    if not d.fix_code or d.line is None or d.line < run.first_line:
        return None
    original = statement(run.source, d.line - run.first_line)
    return Fix([Edit(d.line, kind_of(original, d.fix_code) if original.strip() else "before",
                     d.fix_code)])


def _proposal(run: Run, d: Diagnosis) -> Fix | None:
    fixer = FIXERS.get(d.code)
    found = None
    if fixer is not None:
        try:
            found = fixer(run, d)
        except Exception:  # this fixer failed on an unusual cell: the rule's own line then
            found = None
    return found if found is not None else _default(run, d)


def _runs_as_python(run: Run, edits: Sequence[Edit]) -> bool:
    """The corrected cell compiles (when the cell itself does: IPython's %magics do not)."""
    if any(not run.first_line <= e.line <= run.first_line + len(run.source.splitlines())
           for e in edits):
        return False
    try:
        compile(run.source, "<cell>", "exec")
    except SyntaxError:
        return True  # IPython syntax: each edit was checked as a line of Python when it was made
    try:
        compile(apply(run.source, edits, run.first_line), "<fixed>", "exec")
    except SyntaxError:
        return False
    return True


def settle(run: Run, diagnoses: Sequence[Diagnosis]) -> None:
    """Give each diagnosis its edits, its `fix_code` as the edits write it, and, for a fix that
    belongs outside the cell, words that say where."""
    lines = dict((run.first_line + i, text) for i, text in enumerate(run.source.splitlines()))
    for d in diagnoses:
        if d.edits or d.verification is not None:
            continue  # settled already (a report loaded from JSON)
        try:
            fix = _proposal(run, d)
            if fix is None:
                continue
            edits = fix.edits if fix.edits and _runs_as_python(run, fix.edits) else []
            code = shown(edits, lines) if edits else None
        except Exception:  # a fix that cannot be worked out is no fix: the diagnosis stays, as words
            d.fix_code = None
            continue
        if fix.words:
            d.fix = fix.words
        d.edits = edits
        d.fix_code = code


def edits_of(run: Run, d: Diagnosis) -> list[Edit]:
    """The diagnosis's edits (a report saved before edits were recorded: the rule's line)."""
    if d.edits:
        return list(d.edits)
    fix = _default(run, d)
    return fix.edits if fix is not None else []


def corrected_source(run: Run, diagnoses: Sequence[Diagnosis]) -> str:
    """The cell's code (without a %%gradcheck line) with the edits of all `diagnoses` applied."""
    edits: list[Edit] = []
    notes: list[str] = []
    for d in diagnoses:
        mine = edits_of(run, d)
        edits += mine
        notes += [note(d)] * len(mine)
    return apply(run.source, edits, run.first_line, notes)


def combined(run: Run, diagnoses: Sequence[Diagnosis]) -> tuple[list[Diagnosis], list[Diagnosis]]:
    """(the diagnoses whose fixes can be applied together, those left out because one of their
    edits touches a line another fix already changes), in the given order."""
    taken: set[int] = set()
    together, left = [], []
    for d in diagnoses:
        touched = {e.line for e in edits_of(run, d)}
        if not touched:
            continue
        if touched & taken:
            left.append(d)
            continue
        taken |= touched
        together.append(d)
    return together, left


def magic_line(run: Run) -> str:
    """The %%gradcheck line that gives the same run, every option that shaped it written out (the
    run records their values, not the line the user typed)."""
    options = f" --steps {run.steps_requested}"
    if run.timeout_s:
        options += f" --timeout {run.timeout_s:g}"
    if run.forward.every_step:
        options += " --activations"
    if run.restore is not None and run.restore.mode == "kept" and "--keep" in run.restore.reason:
        options += " --keep"  # kept on request, not because nbgrad failed
    return "%%gradcheck" + options


def _as_cell(run: Run, source: str) -> str:
    if run.first_line == 2:  # the magic's cell: its first line was the %%gradcheck line
        return magic_line(run) + "\n" + source
    return source


def corrected_cell(run: Run, d: Diagnosis) -> str | None:
    """The whole cell, the fix applied; None when the diagnosis has no fix as code."""
    if not edits_of(run, d):
        return None
    return _as_cell(run, corrected_source(run, [d]))


def offered_cell(run: Run, d: Diagnosis) -> str | None:
    """The corrected cell, once it ran under a check without error (what the button offers);
    None before it was tried, or when it raised."""
    v = d.verification
    if v is None or not v.trial.ran:
        return None
    return _as_cell(run, v.trial.source)


def apply_fix(source: str, line: int, fix_code: str, note: str = "") -> str:
    """`source` with `fix_code` at 1-based `line` of it: replacing the statement there when it
    restates it, after it when it converts what the statement made, else before it."""
    original = statement(source, line - 1)
    kind = kind_of(original, fix_code) if original.strip() else "before"
    return apply(source, [Edit(line, kind, fix_code)], 1, [note])
