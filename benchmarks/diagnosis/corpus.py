"""The case files of the corpus: read them without running them, and check their format.

A case file is a module of string and number constants. It is read with `ast` (not imported), so a
broken case cannot run code at load time and every constant is a literal a reader can trust.

    cases/bugs/<id>.py     SOURCE, CAUSE, CELL, FIX, FIX_LINES, optional STEPS, HELD, HELD_OUT
    cases/correct/<id>.py  SOURCE, PROGRAM, CELL, optional STEPS, HELD_OUT

HELD_OUT is the date a case was added after the rules it is scored against were written: those
cases measure nbgrad on bugs its rules were not tuned on, and score.py reports them apart.
"""

from __future__ import annotations

import ast
import datetime
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causes import CAUSES

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
DEFAULT_STEPS = 10
BUG_FIELDS = {"SOURCE": str, "CAUSE": str, "CELL": str, "FIX": str, "FIX_LINES": list}
CORRECT_FIELDS = {"SOURCE": str, "PROGRAM": str, "CELL": str}
OPTIONAL_FIELDS = {"STEPS": int, "HELD": str, "HELD_OUT": str}
NOT_LITERAL = object()  # the value of a constant written as an expression, not a literal


@dataclass
class Case:
    """One case file: a buggy cell with its fix, or a correct loop."""

    id: str  # "bugs/softmax_ce_mnist"
    path: Path
    kind: str  # "bug" or "correct"
    doc: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def cell(self) -> str:
        return self.fields.get("CELL", "")

    @property
    def fix(self) -> str:
        return self.fields.get("FIX", "")

    @property
    def cause(self) -> str | None:
        return self.fields.get("CAUSE")

    @property
    def fix_lines(self) -> list[int]:
        return list(self.fields.get("FIX_LINES", []))

    @property
    def steps(self) -> int:
        return int(self.fields.get("STEPS", DEFAULT_STEPS))

    @property
    def held(self) -> str | None:
        return self.fields.get("HELD")

    @property
    def held_out(self) -> bool:
        """Written after the rules: it measures them and must not be used to tune them."""
        return "HELD_OUT" in self.fields


def read(path: Path) -> Case:
    """The constants and docstring of one case file (literals only)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    fields: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                fields[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                fields[node.targets[0].id] = NOT_LITERAL
    kind = "bug" if path.parent.name == "bugs" else "correct"
    return Case(id=f"{path.parent.name}/{path.stem}", path=path, kind=kind,
                doc=ast.get_docstring(tree) or "", fields=fields)


def load(root: Path = CASES) -> list[Case]:
    """Every case under root/bugs and root/correct, in a stable order."""
    return [read(p) for sub in ("bugs", "correct") for p in sorted((root / sub).glob("*.py"))]


def touched_lines(cell: str, fix: str) -> set[int]:
    """1-based CELL lines the fix replaces or deletes, and both neighbours of each insertion."""
    before, after = cell.splitlines(), fix.splitlines()
    lines: set[int] = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            lines.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            lines.update(n for n in (i1, i1 + 1) if 1 <= n <= len(before))
    return lines


def problems(case: Case) -> list[str]:
    """What is wrong with the format of a case; empty when it is valid."""
    found = []
    required = BUG_FIELDS if case.kind == "bug" else CORRECT_FIELDS
    for name, kind in {**required, **OPTIONAL_FIELDS}.items():
        if name not in case.fields:
            if name in required:
                found.append(f"{name} is missing")
        elif case.fields[name] is NOT_LITERAL:
            found.append(f"{name} must be written as a literal, not computed")
        elif not isinstance(case.fields[name], kind) or isinstance(case.fields[name], bool):
            found.append(f"{name} must be a {kind.__name__}")
    if found:
        return found
    doc = case.doc.strip()
    if case.kind == "bug" and (not doc or "\n" in doc):
        found.append("the docstring must be one line: the bug as it was reported")
    if not case.fields["SOURCE"].startswith("https://"):
        found.append("SOURCE must be the https:// address of the public report")
    if case.steps < 1:
        found.append("STEPS must be at least 1")
    if case.held_out and not _is_date(case.fields["HELD_OUT"]):
        found.append("HELD_OUT must be the date the case was added, as YYYY-MM-DD")
    try:
        compile(case.cell, f"{case.id}:CELL", "exec")
    except SyntaxError as error:
        found.append(f"CELL does not compile: {error}")
    if case.kind == "correct":
        return found
    if case.cause not in CAUSES:
        found.append(f"CAUSE {case.cause!r} is not in causes.py")
    try:
        compile(case.fix, f"{case.id}:FIX", "exec")
    except SyntaxError as error:
        found.append(f"FIX does not compile: {error}")
    if case.fix.strip() == case.cell.strip():
        found.append("FIX is the same as CELL")
    count = len(case.cell.splitlines())
    lines = case.fix_lines
    if not lines or not all(isinstance(n, int) and 1 <= n <= count for n in lines):
        found.append(f"FIX_LINES must be CELL line numbers in 1..{count}, got {lines}")
    elif not set(lines) <= touched_lines(case.cell, case.fix):
        found.append(f"FIX_LINES {lines} are not where FIX changes CELL "
                     f"(changed: {sorted(touched_lines(case.cell, case.fix))})")
    return found


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
