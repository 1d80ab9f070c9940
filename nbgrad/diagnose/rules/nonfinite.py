"""NaN / Inf: the first step, and the first place (data, operation, layer, gradient, weight) where
a non-finite value appears."""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run

# what to change when an operation of the forward pass makes the first NaN/Inf
OP_FIXES = {
    "log": "The log of 0 is -inf: use log1p for counts, F.log_softmax for log-probabilities, "
           "BCEWithLogitsLoss instead of log(sigmoid(...)), or clamp: torch.log(x.clamp_min(1e-8))",
    "div": "A division by zero: add a small epsilon to the denominator, e.g. x / (y + 1e-8)",
    "sqrt": "The sqrt of a negative number (or its gradient at 0): use torch.sqrt(x.clamp_min(1e-8))",
    "exp": "Exp overflowed: use torch.logsumexp / F.log_softmax instead of exp then log",
    "pow": "A power overflowed or took a root of a negative number: check its base and exponent",
}
OP_ALIASES = {"__truediv__": "div", "__rtruediv__": "div", "true_divide": "div", "divide": "div",
              "log2": "log", "log10": "log", "log1p": "log", "rsqrt": "sqrt", "__pow__": "pow",
              "__rpow__": "pow", "reciprocal": "div"}
DIVERGED_FIX = ("The values grew step after step until they overflowed: lower the learning rate "
                "(try 10x smaller), and clip gradients with "
                "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) before optimizer.step().")


def _first_bad(values: dict[int, list[tuple[str, float | None]]]) -> tuple[int, list[str]] | None:
    for step in sorted(values):
        bad = [name for name, v in values[step] if v is not None and not math.isfinite(v)]
        if bad:
            return step, bad
    return None


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
    evidence: list[Evidence] = []
    line = None
    if data and data[0].step == first:
        d = data[0]
        where = f"in the input of {d.layer}"
        evidence.append(Evidence(f"the input of {d.layer} at step {d.step} holds {d.summary.nonfinite} "
                                 "NaN/Inf values", d.summary.nonfinite, d.layer, d.step))
        fix = ("Clean the data before training: find the rows with torch.isnan(x).any(dim=1) or "
               "torch.isinf(...) and drop or fill them.")
        line = d.line
    elif weights is not None and weights[0] == first:
        where = f"in the weights ({', '.join(weights[1][:3])})"
        fix = DIVERGED_FIX
    elif op is not None:
        kind = OP_ALIASES.get(op.op, op.op)
        where = f"in {op.op}()" + (f" inside {op.layer}" if op.layer else "")
        fix = facts.sentence(OP_FIXES.get(kind, "Find why this operation's output overflows; check the "
                                           "range of its inputs"))
        line = op.line
        evidence.append(Evidence(f"the first operation whose output holds NaN/Inf is {op.op}() at "
                                 f"step {op.step}" + (f" (line {op.line})" if op.line else ""),
                                 None, op.layer or None, op.step))
    elif modules and modules[0].step == first:
        m = modules[0]
        where = f"in the output of {m.layer}"
        fix = DIVERGED_FIX
    else:
        where = "in the loss" if loss_bad == first else "in the gradients"
        fix = DIVERGED_FIX
    mod = next((m for m in modules if m.step == first), None)
    if mod is not None:
        evidence.append(Evidence(f"first layer whose output is NaN/Inf at step {first}: {mod.layer}",
                                 None, mod.layer, mod.step))
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
    for oi, opt in enumerate(run.optimizers):  # each optimizer's own loss, never mixed
        before = facts.finite(facts.step_loss(s, opt.closure) for s in facts.steps_of(run, oi)
                              if s.index < first)
        if len(before) >= 2 and before[-1] > before[0]:
            whose = f"the loss of '{opt.name}'" if len(run.optimizers) > 1 else "the loss"
            evidence.append(Evidence(f"before that, {whose} grew from {facts.fmt(before[0])} to "
                                     f"{facts.fmt(before[-1])}", before[-1]))
    return [make(
        "NBG503", severity="error",
        title=f"NaN/Inf values appear at step {first}, first {where}",
        evidence=evidence,
        why="Once a NaN or Inf enters the loss, every gradient and then every weight it touches "
            "becomes NaN: training cannot recover.",
        fix=fix, line=line, confidence=1.0, layers=sorted({e.layer for e in evidence if e.layer}),
        # values that grew until they overflowed: a learning rate found too large explains them
        consequence_of=["NBG403", "NBG702", "NBG703"] if fix == DIVERGED_FIX else [])]
