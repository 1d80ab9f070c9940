"""Facts about how a run went out of range: whether the loss or the gradient grew before the
first NaN/Inf (values that overflow by growing: the step size), or whether it appeared abruptly
(one operation's arithmetic), and which operations of the cell can make one.
"""

from __future__ import annotations

import math

from nbgrad import numbers
from nbgrad.diagnose.facts.series import finite, step_grad, step_loss, steps_of
from nbgrad.records import Run, SingularOp
from nbgrad.thresholds import LOSS_DIVERGE_FACTOR_BATCHES

# activations whose float32 output reaches exactly 0 or 1 once they saturate: a log of them is -inf
SATURATING = {"sigmoid", "sigmoid_", "softmax", "_softmax", "exp", "exp_"}

__all__ = ["SATURATING", "first_nonfinite_step", "growth_before", "singular_candidates"]


def first_nonfinite_step(run: Run, optimizer: int) -> int | None:
    """The index (in the optimizer's own series) of its first step with a NaN/Inf loss."""
    for i, step in enumerate(steps_of(run, optimizer)):
        value = step_loss(step, run.optimizers[optimizer].closure)
        if value is not None and not math.isfinite(value):
            return i
    return None


def growth_before(run: Run, optimizer: int, step: int) -> str | None:
    """How the loss or the gradient norm grew by an order of magnitude up to step `step` of the
    optimizer, the first with a NaN/Inf (its loss counts when it is still finite: the gradient
    overflowed first), as text for evidence; None when both stayed in range: an abrupt NaN/Inf,
    which no step size explains."""
    upto = [s for s in steps_of(run, optimizer) if s.index <= step]
    steps = [s for s in upto if s.index < step]
    losses = finite(step_loss(s, run.optimizers[optimizer].closure) for s in upto)
    if len(losses) >= 2 and losses[0] > 0 and max(losses[1:]) >= LOSS_DIVERGE_FACTOR_BATCHES * losses[0]:
        return (f"before that the loss grew from {numbers.fmt(losses[0])} to "
                f"{numbers.fmt(max(losses[1:]))}")
    grads = finite(step_grad(run, s) for s in steps)
    if len(grads) >= 2 and grads[0] > 0 and max(grads[1:]) >= LOSS_DIVERGE_FACTOR_BATCHES * grads[0]:
        return (f"before that the gradient norm grew from {numbers.fmt(grads[0])} to "
                f"{numbers.fmt(max(grads[1:]))}")
    return None


def _rank(op: SingularOp) -> tuple[int, float]:
    """Most suspect first: an input at the singular point, then one made by a saturating
    activation (a log of a sigmoid), then the input that came closest to the point."""
    at_point = op.zeros > 0 or op.below > 0
    saturating = op.kind == "log" and op.input_from in SATURATING
    closest = abs(op.closest) if op.closest is not None else math.inf
    return (0 if at_point else 1 if saturating else 2, closest)


def singular_candidates(run: Run, before: int | None = None) -> list[SingularOp]:
    """The singular operations the windows saw (each line once, at its earliest window up to
    step `before`), most suspect first."""
    ops = run.forward.singular_ops
    early = [op for op in ops if before is None or op.step <= before]
    seen: dict[tuple[str, int | None], SingularOp] = {}
    for op in early or ops:
        key = (op.kind, op.line)
        held = seen.get(key)
        if held is None or _rank(op) < _rank(held):
            seen[key] = op
    return sorted(seen.values(), key=_rank)
