"""A note when the check stopped the loop before the code after its inner loop ever ran.

`--steps 10` stops a loop of 12 batches per epoch in its first epoch, so the student's per-epoch
`print` (or an accuracy computed after the loop) never runs and its output is simply missing.
Nothing is wrong with the loop; the note says why the output is missing and how to see it.
"""

from __future__ import annotations

import ast

from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LoopLength, Run


def _loops_around(tree: ast.AST, line: int) -> list[tuple[ast.For | ast.While, list[ast.stmt]]]:
    """The loops that contain `line` (outermost first), each with the body it sits in."""
    out: list[tuple[ast.For | ast.While, list[ast.stmt]]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            end = node.end_lineno or node.lineno
            if not node.lineno <= line <= end:
                continue
            if isinstance(node, (ast.For, ast.While)):
                out.append((node, body))
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)
                elif isinstance(inner, list):  # except handlers hold their own bodies
                    for handler in inner:
                        visit(getattr(handler, "body", []))
    visit(tree.body)  # type: ignore[attr-defined]
    return out


def stopped_mid_epoch(run: Run) -> list[Diagnosis]:
    step_lines = [e.line for e in run.events if e.kind == "step" and e.line is not None]
    if run.stopped_by != "steps" or not step_lines:
        return []
    try:
        tree = ast.parse(run.source)
    except SyntaxError:
        return []
    offset = run.first_line - 1
    line = step_lines[0]
    loops = _loops_around(tree, line - offset)
    if not loops:
        return []
    inner, body = loops[-1]
    known: dict[int, LoopLength] = {loop.line: loop for loop in run.loops}
    length = known.get(inner.lineno + offset)
    steps = sum(1 for n in step_lines if n == line)  # iterations of the inner loop that stepped
    if length is None or steps >= length.length:
        return []  # the inner loop ended at least once, or its length is unknown: nothing to say
    after = body[body.index(inner) + 1:]
    if not after:
        return []
    skipped = [(s.lineno + offset, run.cell_line(s.lineno + offset).strip()) for s in after]
    shown = ", ".join(f"line {n} `{text}`" for n, text in skipped[:3])
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    where = "after the inner loop" if len(loops) > 1 else "after the loop"
    return [make(
        "NBG001",
        title=(f"The check stopped the loop mid-epoch ({steps} steps of {length.length} "
               f"batches): the code {where} did not run"),
        evidence=[
            Evidence(f"the loop `{run.cell_line(inner.lineno + offset).strip()}` (line "
                     f"{inner.lineno + offset}) goes over {length.length} items "
                     f"(len({length.iterable}) = {length.length}); the check stopped it after "
                     f"{steps} optimizer step{'s' if steps != 1 else ''}, as --steps asked",
                     float(length.length)),
            Evidence(f"{shown}{more} come{'s' if len(skipped) == 1 else ''} {where} and never "
                     "ran, so what it prints or computes is missing"),
        ],
        why=("The check stops your loop after --steps optimizer steps, wherever it is; the lines "
             f"{where} run only once the loop has gone through all {length.length} batches."),
        fix=(f"Nothing to fix in your cell. To see those lines run under the check, give it a "
             f"whole epoch: %%gradcheck --steps {length.length} (or run the cell without "
             "%%gradcheck)."),
        line=skipped[0][0], confidence=1.0,
    )]


RULES = [stopped_mid_epoch]
