"""Applying edits to the cell's text: replace, put before or after, or remove a whole statement.

An edit names a line as the user sees it; it acts on the statement that starts there (all of its
lines when it spans several; only the header of a compound statement, except for a removal or an
insertion after it, which take the whole statement with its body). Edits are applied from the
last line up, so that each one's line number is still the user's. A comment line above each
change says which diagnosis made it; a removed statement leaves that comment in its place (and a
`pass` when its block would be empty).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Sequence
from typing import Literal

from nbgrad.diagnose.diagnosis import Edit


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


def _reads_itself(node: ast.stmt) -> bool:
    """`X = X.float()`: an assignment computed from the name it assigns (a conversion that must
    come after the line that makes X, not replace it)."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return False
    target = node.targets[0]
    if not isinstance(target, ast.Name):
        return False
    return any(isinstance(n, ast.Name) and n.id == target.id for n in ast.walk(node.value))


def fix_mode(original: str, fix_code: str) -> Literal["replace", "insert", "after"]:
    """Whether `fix_code` restates the `original` statement (replace it), converts what it made
    (put after it), or is new (insert it before)."""
    stripped = original.strip()
    if stripped and stripped in (x.strip() for x in fix_code.splitlines()):
        return "replace"
    old, new = _statement(original), _statement(fix_code)
    if old is None or new is None:
        return "insert"
    if _targets(old) & _targets(new):
        return "after" if _reads_itself(new) and not _reads_itself(old) else "replace"
    if type(old) is type(new) and isinstance(old, (ast.For, ast.While, ast.With, ast.If)):
        return "replace"
    if isinstance(old, ast.Expr) and isinstance(new, ast.Expr) and \
            isinstance(old.value, ast.Call) and isinstance(new.value, ast.Call):
        return "replace" if ast.dump(old.value.func) == ast.dump(new.value.func) else "insert"
    return "insert"


def kind_of(original: str, fix_code: str) -> Literal["replace", "before", "after"]:
    """The edit kind for a fix written as one piece of code at a statement (what a rule gives)."""
    mode = fix_mode(original, fix_code)
    return "before" if mode == "insert" else mode


def statement(source: str, index: int) -> str:
    """The whole statement that starts on line `index` (0-based) of `source`: all its lines when
    it spans several, only the header of a compound statement."""
    lines = source.splitlines()
    if not 0 <= index < len(lines):
        return ""
    header, _ = (_spans(lines) or {}).get(index, (index, index))
    return "\n".join(lines[index:header + 1])


def _spans(lines: list[str]) -> dict[int, tuple[int, int]] | None:
    """Start index -> (end of the header, end of the whole statement), 0-based, for every
    statement of the cell; None when the cell is not plain Python (IPython's %magics)."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    spans: dict[int, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        start, end = node.lineno - 1, node.end_lineno - 1
        body = getattr(node, "body", None)
        # a compound statement's header runs up to the line before its body
        header = max(start, body[0].lineno - 2) if isinstance(body, list) and body else end
        if spans.get(start, (0, -1))[1] < end:  # `a = 1; b = 2`, `for p in ps: f(p)`: the widest
            spans[start] = (header, end)
    return spans


def _indent(text: str) -> str:
    return text[:len(text) - len(text.lstrip())]


def apply(source: str, edits: Sequence[Edit], first_line: int = 1,
          notes: Sequence[str] = ()) -> str:
    """`source` (whose first line is line `first_line` of the user's cell) with `edits` applied;
    `notes[i]` is the comment put above the change of `edits[i]` ('' for none)."""
    lines = source.splitlines()
    noted = list(zip(edits, list(notes) + [""] * (len(edits) - len(notes))))
    for edit, note in sorted(noted, key=lambda pair: pair[0].line, reverse=True):
        lines = _apply_one(lines, edit, edit.line - first_line, note)
    return "\n".join(lines) + "\n"


def _apply_one(lines: list[str], edit: Edit, index: int, note: str) -> list[str]:
    index = min(max(index, 0), len(lines))
    spans = _spans(lines) or {}
    target = lines[index] if index < len(lines) else ""
    header, end = spans.get(index, (index, index))
    indent = _indent(target)
    comment = [indent + "# " + note] if note else []
    block = [indent + x if x else x for x in textwrap.dedent(edit.code).strip("\n").splitlines()]
    if index >= len(lines):
        return lines + comment + block
    if edit.kind == "replace":
        return lines[:index] + comment + block + lines[header + 1:]
    if edit.kind == "after":
        while end + 1 < len(lines) and lines[end + 1].strip().startswith("#") and \
                len(_indent(lines[end + 1])) > len(indent):
            end += 1  # a comment inside the statement's block (a line removed there) stays in it
        return lines[:end + 1] + comment + block + lines[end + 1:]
    if edit.kind == "remove":
        more = end - index
        gone = [indent + "# " + (note + ": " if note else "") + "removed: " + lines[index].strip()
                + (f" (and the {more} line{'s' if more > 1 else ''} after it)" if more else "")]
        rest = lines[:index] + gone + lines[end + 1:]
        if _spans(rest) is None and _spans(lines) is not None:  # the block is empty now
            rest = lines[:index] + gone + [indent + "pass"] + lines[end + 1:]
        return rest
    return lines[:index] + comment + block + lines[index:]


def describe(edits: Sequence[Edit], first_line: int = 1, last_line: int | None = None) -> str:
    """The edits in words, for a verdict: 'line 11 changed', 'lines 5 and 9 changed', 'a line
    put before line 10', 'line 4 removed'."""
    if not edits:
        return "nothing changed"
    by_kind: dict[str, list[int]] = {}
    for e in edits:
        by_kind.setdefault(e.kind, []).append(e.line)
    parts = []
    for kind, numbers in by_kind.items():
        numbers = sorted(set(numbers))
        which = f"line {numbers[0]}" if len(numbers) == 1 else \
            "lines " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
        if kind == "replace":
            parts.append(f"{which} changed")
        elif kind == "remove":
            parts.append(f"{which} removed")
        elif kind == "before":
            parts.append(f"a line put before {which}" if last_line is None or
                         numbers[-1] <= last_line else "a line added at the end")
        else:
            parts.append(f"a line put after {which}")
    return " and ".join(parts)


def shown(edits: Sequence[Edit], lines_of: dict[int, str]) -> str:
    """The fix as code for the reports: the new code of each edit, with the line it goes to when
    there are several (`lines_of`: line -> the user's text of it)."""
    if len(edits) == 1 and edits[0].kind != "remove":
        return textwrap.dedent(edits[0].code).strip("\n")
    out = []
    for e in sorted(edits, key=lambda e: e.line):
        if e.kind == "remove":
            out.append(f"# remove line {e.line}: {lines_of.get(e.line, '').strip()}")
            continue
        where = {"replace": f"line {e.line}", "before": f"before line {e.line}",
                 "after": f"after line {e.line}"}[e.kind]
        out.append(f"# {where}:")
        out.append(textwrap.dedent(e.code).strip("\n"))
    return "\n".join(out)
