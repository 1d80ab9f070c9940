"""Where a value used on one line of the cell was made, read from the cell's text.

The records say that the model's input or the loss's target is wrong (float64, on a far-off
scale); the fix belongs where that value was made or prepared: the function the batch goes
through (`prepare(x)`), or the line that built the tensor the batch is sliced from.
"""

from __future__ import annotations

import re

from nbgrad.diagnose.facts.cell import cell_lines
from nbgrad.records import Run

__all__ = ["call_arguments", "names_feeding", "origin_line"]

_NAME = r"[A-Za-z_]\w*"


def _close(text: str, start: int) -> int:
    """Index of the bracket closing the one at `start` (-1: unbalanced)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def _split(inner: str) -> list[str]:
    """Top-level comma-separated parts of `inner`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return [p for p in parts if p]


def call_arguments(text: str, callee: str) -> list[str]:
    """The positional arguments of the first call to `callee` (a name or a dotted name's last
    part) on the line: `loss_fn(model(x), y)` -> ['model(x)', 'y']."""
    found = re.search(rf"(?<![\w.]){re.escape(callee)}\s*\(|\.{re.escape(callee)}\s*\(", text)
    if not found:
        return []
    open_at = found.end() - 1
    close = _close(text, open_at)
    if close < 0:
        return []
    return [a for a in _split(text[open_at + 1:close]) if not re.match(rf"{_NAME}\s*=[^=]", a)]


def _code(text: str) -> str:
    return text.split("#", 1)[0]


def _function_return(run: Run, name: str) -> int | None:
    """The last `return` line of `def name(` in the cell."""
    lines = cell_lines(run)
    start = next((i for i, (_, t) in enumerate(lines) if re.match(rf"\s*def\s+{name}\s*\(", t)), None)
    if start is None:
        return None
    indent = len(lines[start][1]) - len(lines[start][1].lstrip())
    last = None
    for number, text in lines[start + 1:]:
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        if re.match(r"\s*return\b", text):
            last = number
    return last


def _assignment(run: Run, name: str, before: int) -> tuple[int, str] | None:
    """(line, the expression assigned to `name`) of its last assignment before line `before`."""
    found = None
    for number, text in cell_lines(run):
        if number >= before:
            break
        match = re.match(r"^\s*([\w\s,()\[\]]+?)\s*=(?!=)\s*(.+)$", _code(text))
        if not match:
            continue
        targets = [t.strip("() ") for t in match.group(1).split(",")]
        if name not in targets:
            continue
        values = _split(match.group(2))
        position = targets.index(name)
        value = values[position] if len(values) == len(targets) else match.group(2)
        found = (number, value.strip())
    return found


def origin_line(run: Run, expression: str, before: int | None, depth: int = 4) -> int | None:
    """The line where the value of `expression` (used at line `before`) was made or prepared.

    A call to a function defined in the cell: its return line (the preparation belongs there).
    A name, or a slice of one (`X[i:i + 32]`): the line that assigned it, followed further while
    that line only slices another name.
    """
    expression = expression.strip()
    if before is None or depth == 0 or not expression:
        return None
    call = re.match(rf"^({_NAME})\s*\((.*)\)$", expression)
    if call:
        inside = _function_return(run, call.group(1))
        if inside is not None:
            return inside
        args = _split(call.group(2))
        return origin_line(run, args[0], before, depth - 1) if args else None
    root = re.match(rf"^({_NAME})(\[.*\])?(\.\w+\(\))*$", expression)
    if not root:
        return None
    made = _assignment(run, root.group(1), before)
    if made is None:
        return None
    line, value = made
    if re.match(rf"^{_NAME}\[.*\]$", value):  # only a slice of another tensor: look further
        return origin_line(run, value, line, depth - 1) or line
    return line


def names_feeding(run: Run, line: int | None, depth: int = 4) -> set[str]:
    """The names read at `line`, and those read where each of them was assigned before."""
    if line is None:
        return set()
    text = _code(run.cell_line(line))
    value = text.split("=", 1)[1] if re.match(r"^\s*[\w\s,()]+=(?!=)", text) else text
    names = set(re.findall(_NAME, value))
    if depth:
        for name in list(names):
            made = _assignment(run, name, line)
            if made is not None:
                names |= names_feeding(run, made[0], depth - 1)
    return names
