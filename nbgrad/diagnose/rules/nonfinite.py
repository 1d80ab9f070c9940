"""NaN / Inf: the first step, the first place it appears, and where it comes from.

Two origins call for different fixes. Values that grow step after step until they overflow are the
step size's doing (a learning rate found too large explains them, so this finding folds into it).
A NaN that appears abruptly, with the loss, the gradients and the weights in range the step before,
comes from one operation's arithmetic: a log or a division at 0, a sqrt or a norm whose gradient is
infinite at 0. The detail windows record every such operation with how near its input came to that
point and which line made the input, so the diagnosis names the operation and advises for it.
"""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import NonFiniteOp, Run, SingularOp

# what to change when an operation makes the first NaN/Inf, by its kind
OP_FIXES = {
    "log": "Keep the log's input above 0: for probabilities use F.log_softmax / F.logsigmoid, or "
           "BCEWithLogitsLoss on the raw scores instead of log(sigmoid(...)); otherwise clamp it: "
           "torch.log(x.clamp_min(1e-8))",
    "div": "Guard the denominator where it can be 0: x / d.clamp_min(1e-8) (a count: "
           "d.clamp(min=1)), or skip the batches where it is 0",
    "sqrt": "Add a small epsilon inside the square root, torch.sqrt(x + 1e-12): its gradient at 0 "
            "is infinite, and 0 times infinity is NaN",
    "norm": "Add a small epsilon: torch.sqrt((d ** 2).sum(-1) + 1e-12) instead of the norm, or "
            "F.pairwise_distance(a, b, eps=1e-6): the gradient of a norm is NaN where the vector "
            "is exactly 0",
    "exp": "Exp overflowed: use torch.logsumexp / F.log_softmax instead of exp then log",
    "pow": "A power overflowed or took a root of a negative number: check its base and exponent",
}
OP_ALIASES = {"__truediv__": "div", "__rtruediv__": "div", "__rdiv__": "div", "true_divide": "div",
              "divide": "div", "log2": "log", "log10": "log", "log1p": "log", "rsqrt": "sqrt",
              "__pow__": "pow", "__rpow__": "pow", "reciprocal": "div", "linalg_vector_norm": "norm",
              "cdist": "norm"}
DIVERGED_FIX = ("The values grew step after step until they overflowed: lower the learning rate "
                "(try 10x smaller), and clip gradients with "
                "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) before optimizer.step().")
GROWTH_CAUSES = ["NBG403", "NBG702", "NBG703", "NBG407", "NBG851", "NBG852", "NBG552", "NBG651"]
WHAT_IT_GOT = {"log": "input", "sqrt": "input", "pow": "base", "div": "denominator",
               "norm": "vectors"}


def _first_bad(values: dict[int, list[tuple[str, float | None]]]) -> tuple[int, list[str]] | None:
    for step in sorted(values):
        bad = [name for name, v in values[step] if v is not None and not math.isfinite(v)]
        if bad:
            return step, bad
    return None


def _kind(op: str) -> str:
    return OP_ALIASES.get(op, op)


def _fix_line(run: Run, op: SingularOp) -> int | None:
    """Where to change it: a log of a saturating activation at that activation; a division by a
    quantity made anew in each iteration (a per-batch count) where that quantity is made; anything
    else at the operation itself."""
    if op.input_from_line is not None and op.input_from_line != op.line:
        if op.kind == "log" and op.input_from in facts.SATURATING:
            return op.input_from_line
        if op.kind == "div" and facts.loops_around(run, op.input_from_line):
            return op.input_from_line
    return op.line


def _made_at(op: SingularOp | None, op_line: int | None, line: int | None) -> str:
    """When the fix's line is where the operation's input was made, the title says so, so that it
    names the line the diagnosis points at."""
    if op is None or not op.input_from or line is None or line == op_line:
        return ""
    return f" of the {op.input_from}() output made at line {line}"


def _describe(op: SingularOp) -> str:
    """One operation, how near its input came to the singular point, and where the input was made."""
    made = f", made by {op.input_from}() at line {op.input_from_line}" \
        if op.input_from and op.input_from_line is not None else ""
    what = WHAT_IT_GOT.get(op.kind, "input")
    where = f"{op.op}() at line {op.line}" + (f" (inside {op.layer})" if op.layer else "")
    if op.kind == "norm":
        if op.zeros:
            return (f"{where} got {op.zeros} vectors of exactly 0 at step {op.step}: its gradient "
                    "there is NaN")
        return f"{where}: its smallest result was {facts.fmt(op.closest)} at step {op.step}"
    if op.below:
        return (f"{where} got {op.below} negative {what} values{made} at step {op.step}: its "
                "result is NaN there")
    if op.zeros:
        consequence = {"log": "log(0) is -inf", "div": "a division by 0 is inf or NaN",
                       "sqrt": "the gradient of sqrt at 0 is infinite",
                       "pow": "the gradient there is infinite"}.get(op.kind, "")
        return f"{where} got {op.zeros} {what} values of exactly 0{made} at step {op.step}: {consequence}"
    return (f"{where}: its {what}{made} came as close as {facts.fmt(op.closest)} to 0 at step "
            f"{op.step}")


def _record_of(run: Run, op: NonFiniteOp) -> SingularOp | None:
    return next((s for s in run.forward.singular_ops
                 if s.step == op.step and s.line == op.line and s.op == op.op), None)


def nonfinite_values(run: Run) -> list[Diagnosis]:
    fwd = run.forward
    loss_bad = next((s.index for s in run.steps
                     if any(v is not None and not math.isfinite(v) for v in s.losses)), None)
    grads = _first_bad({s.index: [(n, p.grad_norm) for n, p in s.params.items()] for s in run.steps})
    # a weight measured at step k is the weight the forward pass of step k used
    weights = _first_bad({s.index: [(n, p.param_norm) for n, p in s.params.items()]
                          for s in run.steps})
    data = [i for i in fwd.inputs if i.summary.nonfinite]
    modules = sorted((m for m in fwd.modules if m.output_nonfinite),
                     key=lambda m: (m.step, fwd.order.index(m.layer) if m.layer in fwd.order else 0))
    if loss_bad is None and grads is None and weights is None and not data:
        # an Inf inside the forward pass that never reaches the loss, the gradients or the weights
        # is deliberate (attention masks filled with -inf, say): nothing to report
        return []
    candidates = [s for s in (loss_bad, grads[0] if grads else None, weights[0] if weights else None,
                              data[0].step if data else None, modules[0].step if modules else None,
                              fwd.nonfinite_ops[0].step if fwd.nonfinite_ops else None)
                  if s is not None]
    if not candidates:
        return []
    first = min(candidates)
    op = next((o for o in fwd.nonfinite_ops if o.step == first), None)
    growth = next((g for oi in range(len(run.optimizers))
                   if (g := facts.growth_before(run, oi, first)) is not None), None)
    evidence: list[Evidence] = []
    line = None
    diverged = False
    if weights is not None and weights[0] == first and (grads is None or grads[0] >= first):
        where = f"in the weights ({', '.join(weights[1][:3])})"
        fix, diverged = DIVERGED_FIX, True
    elif op is not None and _kind(op.op) in OP_FIXES:
        record = _record_of(run, op)
        fix = facts.sentence(OP_FIXES[_kind(op.op)])
        line = _fix_line(run, record) if record is not None else op.line
        where = (f"in {op.op}() at line {op.line}" if op.line else f"in {op.op}()") + \
            _made_at(record, op.line, line)
        evidence.append(Evidence(f"the first operation whose output holds NaN/Inf is {op.op}() at "
                                 f"step {op.step}" + (f" (line {op.line})" if op.line else "")
                                 + (f", inside {op.layer}" if op.layer else ""),
                                 None, op.layer or None, op.step))
        if record is not None:
            evidence.append(Evidence(_describe(record), record.closest, record.layer or None,
                                     record.step))
    elif data and data[0].step == first:
        d = data[0]
        where = f"in the input of {d.layer}"
        evidence.append(Evidence(f"the input of {d.layer} at step {d.step} holds {d.summary.nonfinite} "
                                 "NaN/Inf values", d.summary.nonfinite, d.layer, d.step))
        fix = ("Clean the data before training: find the rows with torch.isnan(x).any(dim=1) or "
               "torch.isinf(...) and drop or fill them.")
        line = d.line
    elif op is not None:
        where = f"in {op.op}()" + (f" inside {op.layer}" if op.layer else "")
        fix = facts.sentence("Find why this operation's output overflows; check the range of its "
                             "inputs")
        line = op.line
        evidence.append(Evidence(f"the first operation whose output holds NaN/Inf is {op.op}() at "
                                 f"step {op.step}" + (f" (line {op.line})" if op.line else ""),
                                 None, op.layer or None, op.step))
    elif growth is not None:
        where = "in the loss" if loss_bad == first else "in the gradients"
        fix, diverged = DIVERGED_FIX, True
        evidence.append(Evidence(growth))
    else:
        where, fix, line = _abrupt(run, first, loss_bad, evidence)
    if modules and not diverged:
        mod = next((m for m in modules if m.step == first), None)
        if mod is not None:
            evidence.append(Evidence(f"first layer whose output is NaN/Inf at step {first}: "
                                     f"{mod.layer}", None, mod.layer, mod.step))
    if loss_bad is not None:
        value = next(v for v in run.steps[loss_bad].losses if v is not None and not math.isfinite(v))
        evidence.append(Evidence(f"the loss is {value} at step {loss_bad}", value, None, loss_bad))
    if grads is not None:
        layer = run.params[grads[1][0]].layer if grads[1][0] in run.params else None
        evidence.append(Evidence(f"first non-finite gradients at step {grads[0]}, in "
                                 f"{len(grads[1])} parameters: {', '.join(grads[1][:5])}",
                                 len(grads[1]), layer, grads[0]))
    if weights is not None:
        evidence.append(Evidence(f"first non-finite weights at step {weights[0]} (after the update "
                                 f"of step {weights[0] - 1}), in {len(weights[1])} parameters: "
                                 f"{', '.join(weights[1][:5])}", len(weights[1]), None, weights[0]))
    if diverged and growth is None:
        for oi, opt in enumerate(run.optimizers):  # each optimizer's own loss, never mixed
            before = facts.finite(facts.step_loss(s, opt.closure) for s in facts.steps_of(run, oi)
                                  if s.index < first)
            if len(before) >= 2 and before[-1] > before[0]:
                whose = f"the loss of '{opt.name}'" if len(run.optimizers) > 1 else "the loss"
                evidence.append(Evidence(f"before that, {whose} grew from {facts.fmt(before[0])} "
                                         f"to {facts.fmt(before[-1])}", before[-1]))
    return [make(
        "NBG503", severity="error",
        title=f"NaN/Inf values appear at step {first}, first {where}",
        evidence=evidence,
        why="Once a NaN or Inf enters the loss, every gradient and then every weight it touches "
            "becomes NaN: training cannot recover.",
        fix=fix, line=line, confidence=1.0, layers=sorted({e.layer for e in evidence if e.layer}),
        # values that grew until they overflowed: a learning rate found too large explains them,
        # and so does what makes the steps too large for it (the findings NBG403 folds into)
        consequence_of=GROWTH_CAUSES if diverged else [])]


def _abrupt(run: Run, first: int, loss_bad: int | None,
            evidence: list[Evidence]) -> tuple[str, str, int | None]:
    """A NaN that no growth announced: an operation's arithmetic on this step's values. Names the
    operations that can make one, most suspect first, and advises for the first."""
    step = next((s for s in run.steps if s.index == first), None)
    loss = facts.finite(step.losses) if step is not None else []
    if loss_bad == first:
        evidence.append(Evidence(
            f"the loss became NaN/Inf at step {first} without growing first, with the weights "
            "still finite: no step size does that, an operation on this step's values did",
            None, None, first))
    else:
        evidence.append(Evidence(
            f"at step {first} the loss ({facts.fmt(loss[0]) if loss else 'finite'}) and the weights "
            "were finite, yet the gradients were not: backward() went through an operation whose "
            "derivative is infinite at the value it got", loss[0] if loss else None, None, first))
    ops = facts.singular_candidates(run, before=first)
    if not ops:
        return (("in the loss" if loss_bad == first else "in the gradients"),
                "Find the operation that makes it: a log, a division or a square root of a value that "
                "can be 0 on some batch; torch.autograd.set_detect_anomaly(True) names it in its "
                "traceback. The line is not known: no such operation ran while nbgrad watched the "
                "forward pass in detail.", None)
    top = ops[0]
    evidence += [Evidence(_describe(op), op.closest, op.layer or None, op.step) for op in ops[:3]]
    if len(ops) > 1:
        evidence.append(Evidence(f"{len(ops)} operations that can make NaN/Inf ran; the first listed "
                                 "came nearest to its singular point"))
    line = _fix_line(run, top)
    where = (f"from {top.op}() at line {top.line}" if top.line else f"from {top.op}()") + \
        _made_at(top, top.line, line) + (" in the backward pass" if loss_bad != first else "")
    return where, facts.sentence(OP_FIXES.get(top.kind, OP_FIXES["div"])), line
