"""The corrected copy of a cell, made from a diagnosis's `fix_code` and `line`.

Fixes are made here, beside the rules that write them, and nowhere else: the dashboard's fix button
only hands `corrected_cell`'s text to `set_next_input`, so the user's own cell is never
overwritten. Pure string work, no IPython.

Where `Diagnosis.fix_code` goes, given `Diagnosis.line` (a line of the cell as the user sees it):
it REPLACES the statement starting on that line when it restates it (the same assignment target,
the same call, or it contains that line unchanged); otherwise it is INSERTED before that line, so
the fix becomes line `line` of the corrected cell. A line one past the end appends the fix.
A comment line above the change says which diagnosis made it.
"""

from __future__ import annotations

import ast
import textwrap
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.records import Run

def _statement(line: str) -> ast.stmt | None:
    text = textwrap.dedent(line).strip()
    if text.endswith(":"):  # the header of a compound statement: give it a body to parse
        text += "\n    pass"
    try:
        body = ast.parse(text).body
    except SyntaxError:
        return None
    return body[0] if body else None


def _targets(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Assign):
        return {ast.dump(t) for t in node.targets}
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return {ast.dump(node.target)}
    return set()


def fix_mode(original: str, fix_code: str) -> Literal["replace", "insert"]:
    """Whether `fix_code` restates the `original` statement (replace it) or is new (insert it)."""
    stripped = original.strip()
    if stripped and stripped in (x.strip() for x in fix_code.splitlines()):
        return "replace"
    old, new = _statement(original), _statement(fix_code)
    if old is None or new is None:
        return "insert"
    if _targets(old) & _targets(new):
        return "replace"
    if type(old) is type(new) and isinstance(old, (ast.For, ast.While, ast.With, ast.If)):
        return "replace"
    if isinstance(old, ast.Expr) and isinstance(new, ast.Expr) and \
            isinstance(old.value, ast.Call) and isinstance(new.value, ast.Call):
        return "replace" if ast.dump(old.value.func) == ast.dump(new.value.func) else "insert"
    return "insert"


def _statement_end(lines: list[str], index: int) -> int:
    """Index of the last line of the statement that starts at `index` (one line if unknown)."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:  # IPython syntax (%magics, !shell) in the cell: one line it is
        return index
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == index + 1 and node.end_lineno:
            # a compound statement (for, with, if, def ...): only its header line is the target
            return index if hasattr(node, "body") else node.end_lineno - 1
    return index


def apply_fix(source: str, line: int, fix_code: str, note: str = "") -> str:
    """`source` with `fix_code` at 1-based `line` of it (see the module docstring)."""
    lines = source.splitlines()
    index = min(max(line - 1, 0), len(lines))
    target = lines[index] if index < len(lines) else ""
    indent = target[:len(target) - len(target.lstrip())]
    block = textwrap.dedent(fix_code).strip("\n").splitlines()
    new = ([indent + "# " + note] if note else []) + [indent + x if x else x for x in block]
    if index < len(lines):
        end = _statement_end(lines, index)
        statement = "\n".join(lines[index:end + 1])
        if fix_mode(statement, fix_code) == "replace":
            return "\n".join(lines[:index] + new + lines[end + 1:]) + "\n"
    return "\n".join(lines[:index] + new + lines[index:]) + "\n"


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


def corrected_cell(run: Run, d: Diagnosis) -> str | None:
    """The whole cell, the fix applied; None when the diagnosis has no code fix or no line."""
    if not d.fix_code or d.line is None or d.line < run.first_line:
        return None
    fixed = apply_fix(run.source, d.line - run.first_line + 1, d.fix_code,
                      note=f"nbgrad {d.code} {d.slug}: suggested fix")
    if run.first_line == 2:  # the magic's cell: its first line was the %%gradcheck line
        return magic_line(run) + "\n" + fixed
    return fixed
