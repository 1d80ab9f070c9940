"""NaN / Inf: the first step, and the first place (data, operation, layer, gradient, weight) where
a non-finite value appears."""

from __future__ import annotations

import math

from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules.forward_facts import finite
from nbgrad.records import Run

# what to change when an operation of the forward pass makes the first NaN/Inf
OP_FIXES = {
    "log": "torch.log(0) is -inf: compute log-probabilities with F.log_softmax, use "
           "BCEWithLogitsLoss instead of log(sigmoid(...)), or clamp: torch.log(x.clamp_min(1e-8))",
    "div": "a division by zero: add a small epsilon to the denominator, e.g. x / (y + 1e-8)",
    "sqrt": "sqrt of a negative number (or its gradient at 0): use torch.sqrt(x.clamp_min(1e-8))",
    "exp": "exp overflowed: use torch.logsumexp / F.log_softmax instead of exp then log",
    "pow": "a power overflowed or took a root of a negative number: check its base and exponent",
}
OP_ALIASES = {"__truediv__": "div", "__rtruediv__": "div", "true_divide": "div", "divide": "div",
              "log2": "log", "log10": "log", "log1p": "log", "rsqrt": "sqrt", "__pow__": "pow",
              "__rpow__": "pow", "reciprocal": "div"}


def _first_step(run: Run, values: dict[int, list[tuple[str, float | None]]]) -> tuple[int, list[str]] | None:
    for step in sorted(values):
        bad = [name for name, v in values[step] if v is not None and not math.isfinite(v)]
        if bad:
            return step, bad
    return None


def nonfinite_values(run: Run) -> list[Diagnosis]:
    fwd = run.forward
    loss_bad = next((s.index for s in run.steps
                     if any(v is not None and not math.isfinite(v) for v in s.losses)), None)
    grads = _first_step(run, {s.index: [(n, p.grad_norm) for n, p in s.params.items()]
                              for s in run.steps})
    weights = _first_step(run, {s.index: [(n, p.param_norm) for n, p in s.params.items()]
                                for s in run.steps})
    data = [i for i in fwd.inputs if i.summary.nonfinite]
    op = fwd.nonfinite_ops[0] if fwd.nonfinite_ops else None
    modules = sorted((m for m in fwd.modules if m.output_nonfinite),
                     key=lambda m: (m.step, fwd.order.index(m.layer) if m.layer in fwd.order else 0))
    if loss_bad is None and grads is None and weights is None and not data and op is None \
            and not modules:
        return []
    evidence: list[Evidence] = []
    first_steps = [s for s in (loss_bad, grads and grads[0], weights and weights[0],
                               op and op.step, data and data[0].step,
                               modules and modules[0].step) if s is not None]
    first = min(first_steps)
    line = None
    if data and data[0].step <= first:
        d = data[0]
        evidence.append(Evidence(f"the input of {d.layer} at step {d.step} holds {d.summary.nonfinite} "
                                 "NaN/Inf values", d.summary.nonfinite, d.layer, d.step))
        where = "in the data itself"
        fix = ("Clean the data before training: find the rows with torch.isnan(x).any(dim=1) or "
               "torch.isinf(...) and drop or fill them.")
        line = d.line
    elif weights is not None and weights[0] <= first and (op is None or op.step >= weights[0]):
        where = f"in the weights ({', '.join(weights[1][:3])}) before step {weights[0]}"
        fix = ("An update made the weights non-finite: lower the learning rate, and clip "
               "gradients with torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).")
    elif op is not None:
        kind = OP_ALIASES.get(op.op, op.op)
        where = f"in {op.op}() at step {op.step}" + (f", inside {op.layer}" if op.layer else "")
        fix = OP_FIXES.get(kind, "find why this operation's output overflows; check its inputs' "
                                 "range")
        fix = fix[:1].upper() + fix[1:] + "."
        line = op.line
        evidence.append(Evidence(f"the first operation whose output holds NaN/Inf is {op.op}() at "
                                 f"step {op.step}" + (f" (line {op.line})" if op.line else ""),
                                 None, op.layer or None, op.step))
    elif modules:
        m = modules[0]
        where = f"in the output of {m.layer} at step {m.step}"
        fix = ("Look at what feeds that layer; lower the learning rate if the values grew over the "
               "steps.")
    else:
        where = f"at step {first}"
        fix = ("Lower the learning rate and clip gradients with "
               "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); check the loss for log(0) "
               "or divisions by zero.")
    if modules:
        m = modules[0]
        evidence.append(Evidence(f"first layer whose output is NaN/Inf: {m.layer} at step {m.step}",
                                 None, m.layer, m.step))
    if loss_bad is not None:
        evidence.append(Evidence(f"the loss is NaN/Inf from step {loss_bad}", None, None, loss_bad))
    if grads is not None:
        evidence.append(Evidence(f"first non-finite gradient at step {grads[0]}: "
                                 f"{', '.join(grads[1][:5])}", None, run.params[grads[1][0]].layer
                                 if grads[1][0] in run.params else None, grads[0]))
    if weights is not None:
        evidence.append(Evidence(f"first non-finite weights at step {weights[0]}: "
                                 f"{', '.join(weights[1][:5])}", None, None, weights[0]))
    growth = [s.losses[0] for s in run.steps[:first] if s.losses and finite(s.losses[0])]
    if len(growth) >= 2 and growth[-1] > growth[0]:
        evidence.append(Evidence(f"before that the loss grew from {growth[0]:.4g} to {growth[-1]:.4g}",
                                 growth[-1]))
    layers = sorted({e.layer for e in evidence if e.layer})
    return [Diagnosis(
        code="NBG503", slug="nan-or-inf", severity="error",
        title=f"NaN/Inf values appear at step {first}, first {where}",
        evidence=evidence,
        why="Once a NaN or Inf enters the loss, every gradient and then every weight it touches "
            "becomes NaN: training cannot recover.",
        fix=fix, line=line, confidence=1.0, layers=layers)]
