"""A penalty written into the loss (`loss = data_loss + reg * sum(w ** 2)`) that outweighs the
loss it is meant to regularise.

The windows record what the loss function returned; backward() records what it was called on. The
difference is what the cell added. When the cell adds a term computed from the weights, that term
is at least as large as the loss itself at the first step, and the loss on the data does not fall
over the run, the optimizer spends its steps shrinking the weights instead of fitting the data.
"""

from __future__ import annotations

import ast
import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run
from nbgrad.thresholds import PENALTY_SHARE, STALL_MIN_DROP

READS_WEIGHTS = r"\.parameters\(|\.named_parameters\(|\.weight\b|\bweights?\b"


def _terms(node: ast.expr) -> list[ast.expr]:
    """The operands of a sum `a + b + c`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _terms(node.left) + _terms(node.right)
    return [node]


def _term_line(run: Run, term: ast.expr, line: int) -> int:
    """The line that computes a term: its assignment when it is a name, else the sum's own line."""
    if isinstance(term, ast.Name):
        before = [n for n in facts.assignments(run, term.id) if n < line]
        if before:
            return before[-1]
    return line


def penalty_dominates(run: Run) -> list[Diagnosis]:
    """NBG409: a weight penalty added to the loss is the larger part of it, and the data loss stalls."""
    if not run.steps or len(run.forward.windows) < 2 or len(run.optimizers) != 1:
        return []
    backward = facts.first_line(run, "backward")
    name = facts.backward_variable(run, backward)
    total_line = facts.assignment_line(run, name, backward) if name else None
    node = facts.statement_at(run, total_line)
    if total_line is None or not isinstance(node, ast.Assign):
        return []
    terms = _terms(node.value)
    calls = {c.line for c in run.forward.losses if c.value is not None}
    data: list[int] = []
    penalty: list[tuple[int, list[str]]] = []  # (line, the names its term reads)
    for term in terms:
        n = _term_line(run, term, total_line)
        if n != total_line:  # a name computed on its own line: a loss call's, or a penalty's
            if n in calls:
                data.append(n)
            elif re.search(READS_WEIGHTS, run.cell_line(n)):
                penalty.append((n, facts.names_read(run, n)))
        elif re.search(READS_WEIGHTS, ast.unparse(term)):  # written into the sum itself
            penalty.append((n, [x.id for x in ast.walk(term) if isinstance(x, ast.Name)]))
        elif n in calls:
            data.append(n)
    if len(terms) < 2 or not data or not penalty:
        return []
    shares = []
    for window in run.forward.windows[:1] + run.forward.windows[-1:]:
        step = next((s for s in run.steps if s.index == window), None)
        values = [c.value for c in run.forward.losses
                  if c.step == window and c.line in data and c.value is not None]
        total = facts.finite(step.losses) if step is not None else []
        if not values or not total or total[0] <= 0:
            return []
        shares.append((window, total[0], sum(values)))
    (w0, total0, data0), (w1, total1, data1) = shares
    share = (total0 - data0) / total0
    if share < PENALTY_SHARE or data0 <= 0 or (data0 - data1) >= STALL_MIN_DROP * data0:
        return []
    coefficient = next((found for _, read in penalty for v in read
                        if (found := facts.number_assigned(run, v)) is not None), None)
    line = coefficient[0] if coefficient else penalty[0][0]
    evidence = [
        Evidence(f"at step {w0} the loss backward() got was {fmt(total0)}; the loss function "
                 f"(line {data[0]}) gave {fmt(data0)}, so the term added on line {penalty[0][0]} was "
                 f"{fmt(total0 - data0)}: {share:.0%} of it", value=share, step=w0),
        Evidence(f"the data loss went from {fmt(data0)} at step {w0} to {fmt(data1)} at step {w1}: "
                 "it does not fall", value=data1, step=w1),
        Evidence(f"the added term fell from {fmt(total0 - data0)} to {fmt(total1 - data1)}: the "
                 "steps went into shrinking the weights", value=total1 - data1, step=w1),
    ]
    if coefficient:
        evidence.append(Evidence(f"its weight is {coefficient[1]:g} (line {coefficient[0]})",
                                 value=coefficient[1]))
    return [make(
        "NBG409", severity="warning",
        title=f"The penalty added to the loss is {share:.0%} of it: the steps shrink the weights "
              "instead of fitting the data",
        evidence=evidence,
        why=("A penalty on the weights trades fit for small weights. When it is as large as the "
             "loss on the data from the start, its gradient dominates every step: the weights are "
             "pulled towards 0 and the data loss stays where it began."),
        fix=("Lower the penalty's weight"
             + (f" on line {coefficient[0]} (from {coefficient[1]:g} to, say, "
                f"{coefficient[1] / 100:g})" if coefficient else "") + " until the penalty is a "
             "small part of the loss (a few percent at the start); or use the optimizer's "
             "weight_decay."),
        line=line, confidence=0.8)]
