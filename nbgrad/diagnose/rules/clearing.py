"""When gradients are cleared relative to backward() and step().

In a loop the three calls form a cycle, so only two orders exist: zero_grad -> backward -> step
(correct, however it is rotated: `step(); zero_grad()` at the end of the loop is the same cycle) and
zero_grad -> step -> backward (the step sees cleared gradients). The records decide, not the text:
what the stepping optimizer's parameters held at their first backward() (`stale_grad_norm`) and at
the step. The text only says which line to move.
"""

from __future__ import annotations

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt
from nbgrad.records import Run, StepRecord
from nbgrad.thresholds import STALE_GRAD_FRACTION


def _lines(run: Run, step: int) -> dict[str, int | None]:
    """The cell lines of this step's iteration: its last zero_grad, first backward, and the step."""
    window = [e for e in run.events if e.step == step]
    def last(kind: str) -> int | None:
        return next((e.line for e in reversed(window) if e.kind == kind), None)
    backward = next((e.line for e in window if e.kind == "backward"), None)
    return {"zero_grad": last("zero_grad"), "backward": backward or facts.first_line(run, "backward"),
            "step": last("step")}


def _clearing_line(run: Run, backward: int | None) -> tuple[int | None, str]:
    """Where zero_grad() goes, and that place in words.

    backward() in a function with no loop of its own (a `train_step` the loop calls once per
    step): that function is the step, so every call should start from cleared gradients: its
    first statement. backward() in a loop: right before the backward() call.
    """
    step = facts.step_function(run, backward)
    if step is None:
        return backward, f"before loss.backward() (line {backward})" if backward else ""
    name, first = step
    return first, f"as the first statement of {name}() (line {first}), before backward()"


def grads_accumulate(run: Run) -> list[Diagnosis]:
    """NBG301: gradients left from earlier steps are still there at a step's first backward()."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        steps = facts.steps_of(run, oi)[1:]  # the first step may inherit a previous cell's gradients
        stale = [s for s in steps if facts.leftover_grads(run, s)]
        if not stale:
            continue
        first = stale[0]
        lines = _lines(run, first.index)
        line, place = _clearing_line(run, lines["backward"])
        zero_grads = [e for e in run.events if e.kind == "zero_grad"]
        evidence = [
            Evidence(f"before the backward() of step {first.index}, the parameters of "
                     f"'{opt.name}' still held gradients of norm {fmt(first.stale_grad_norm)} from "
                     f"earlier steps; the step applied their sum (norm {fmt(facts.step_grad(run, first))})",
                     value=first.stale_grad_norm, step=first.index),
            Evidence(f"leftover gradients at {len(stale)} of {len(steps)} steps after the first",
                     value=float(len(stale))),
            Evidence("zero_grad() was never called" if not zero_grads else
                     f"zero_grad() at line {zero_grads[0].line} did not clear '{opt.name}''s "
                     "parameters at these steps"),
        ]
        found.append(make(
            "NBG301", severity="error",
            title="Gradients accumulate across steps: zero_grad() is missing",
            evidence=evidence,
            why=("backward() adds to .grad instead of replacing it. Without zero_grad() every step "
                 "applies the sum of all gradients so far, so steps grow and point where the model "
                 "was, not where it is. (Several backward() calls per step on purpose, gradient "
                 "accumulation, are fine when zero_grad() follows each step.)"),
            fix=f"Call {opt.name}.zero_grad() once per step, "
                + (place or "before loss.backward()") + ".",
            fix_code=f"{opt.name}.zero_grad()",
            line=line, confidence=0.95,
        ))
    return found


def manual_grads_accumulate(run: Run) -> list[Diagnosis]:
    """NBG301 for updates written by hand (`w -= lr * w.grad`): .grad is never cleared, so each
    update applies the sum of every gradient so far."""
    if run.optimizers or len(run.manual_steps) < 2:
        return []
    later = run.manual_steps[1:]  # the first may inherit gradients of a previous cell
    stale = [s for s in later if s.grads_before_backward
             and s.grads_before_backward > STALE_GRAD_FRACTION * (_own_grad(s) or 0.0)]
    if not stale or len(stale) * 2 < len(later):
        return []
    first = stale[0]
    updates = facts.grad_updates(run)
    line = updates[-1] if updates else facts.first_line(run, "backward")
    names = [p for p in first.params]
    evidence = [
        Evidence(f"before the backward() of update {first.index}, the parameters still held "
                 f"gradients of norm {fmt(first.grads_before_backward)} from earlier updates; the "
                 f"update applied their sum (norm {fmt(_own_grad(first))})",
                 value=first.grads_before_backward, step=first.index),
        Evidence(f"leftover gradients at {len(stale)} of {len(later)} updates after the first",
                 value=float(len(stale))),
    ]
    if updates:
        evidence.append(Evidence(f"the update by hand on line{'s' if len(updates) > 1 else ''} "
                                 f"{', '.join(map(str, updates))} reads .grad and never clears it"))
    clears = "; ".join(f"{n}.grad.zero_()" for n in names[:4])
    return [make(
        "NBG301", severity="error",
        title="Gradients accumulate across updates: the update by hand never clears .grad",
        evidence=evidence,
        why=("backward() adds to .grad instead of replacing it. An update written by hand must "
             "clear the gradients itself (an optimizer's zero_grad() does it otherwise); without "
             "that every update applies the sum of all gradients so far."),
        fix=f"Clear each gradient after the update (after line {line}), still under "
            f"torch.no_grad(): {clears}" + (" (or p.grad = None)." if clears else "."),
        line=line, confidence=0.9, layers=sorted({run.params[n].layer for n in names
                                                   if n in run.params}),
    )]


def _own_grad(step: StepRecord) -> float | None:
    values = [p.grad_norm for p in step.params.values() if p.grad_norm is not None]
    return sum(v * v for v in values) ** 0.5 if values else None


def _gradient_made(run: Run, optimizer: int) -> bool:
    """backward() did give the optimizer's parameters gradients, at one step at least."""
    return any(facts.nonzero(s.backward_grad_norm) for s in facts.steps_of(run, optimizer))


def step_sees_no_grad(run: Run) -> list[Diagnosis]:
    """NBG302 / NBG303: gradients exist after backward(), but zero_grad() clears them before step()."""
    found = []
    for oi, opt in enumerate(run.optimizers):
        if not _gradient_made(run, oi):
            continue
        steps = facts.steps_of(run, oi)
        empty = [s for s in steps if not facts.step_grad(run, s)
                 and any(e.kind == "zero_grad" for e in run.events if e.step == s.index)]
        if not empty or len(empty) * 2 < len(steps):
            continue
        lines = _lines(run, empty[-1].index)
        z, b, s = lines["zero_grad"], lines["backward"], lines["step"]
        step_first = s is not None and b is not None and s < b
        held = facts.optimizer_params(run, oi)
        update = max(facts.finite(st.params[p].update_norm for st in empty for p in held
                                  if p in st.params), default=0.0)
        order = (f"zero_grad() (line {z}) -> step() (line {s}) -> backward() (line {b})"
                 if step_first else
                 f"backward() (line {b}) -> zero_grad() (line {z}) -> step() (line {s})")
        evidence = [
            Evidence(f"at {len(empty)} of {len(steps)} steps, {opt.name}.step() found no gradient "
                     f"on its {len(held)} parameter{'s' if len(held) != 1 else ''}, although "
                     "backward() does produce gradients",
                     value=float(len(empty)), step=empty[0].index),
            Evidence(f"the calls run in the order {order}"),
            Evidence(f"largest update of a parameter at these steps: norm {fmt(update)}",
                     value=update),
        ]
        texts = {k: run.cell_line(v) for k, v in lines.items()}
        code = None
        if all(texts.values()) and all(";" not in t for t in texts.values()):
            code = "\n".join(texts[k] for k in ("zero_grad", "backward", "step"))
        if step_first:
            found.append(make(
                "NBG303", severity="error",
                title="step() runs before backward(): every step sees cleared gradients",
                evidence=evidence,
                why=("step() uses the gradients present when it is called. Here zero_grad() has just "
                     "cleared them and backward() only fills them afterwards, where the next "
                     "zero_grad() clears them again: no step ever uses a gradient."),
                fix=f"Move {opt.name}.step() (line {s}) after loss.backward() (line {b}): "
                    "zero_grad() -> backward() -> step().",
                fix_code=code, line=s, confidence=0.95,
            ))
        else:
            found.append(make(
                "NBG302", severity="error",
                title="zero_grad() runs between backward() and step(): every step sees no gradient",
                evidence=evidence,
                why=("zero_grad() erases the gradients backward() just computed, so step() has "
                     "nothing to apply and the model does not learn."),
                fix=f"Move {opt.name}.zero_grad() (line {z}) before loss.backward() (line {b}), or "
                    f"after {opt.name}.step(): zero_grad() -> backward() -> step().",
                fix_code=code, line=z, confidence=0.95,
            ))
    return found


def zero_grad_after_step(run: Run) -> list[Diagnosis]:
    """NBG304 (note): zero_grad() written after step() is a correct loop; say so."""
    found = []
    for oi in range(len(run.optimizers)):
        steps = facts.steps_of(run, oi)
        if len(steps) < 2 or any(facts.leftover_grads(run, s) for s in steps[1:]):
            continue
        if any(not facts.step_grad(run, s) for s in steps):
            continue
        lines = _lines(run, steps[-1].index)
        z, b, s = lines["zero_grad"], lines["backward"], lines["step"]
        if z is None or b is None or s is None or not b < s < z:
            continue
        found.append(make(
            "NBG304", severity="info",
            title="zero_grad() after step() is correct: each step sees only its own gradient",
            evidence=[Evidence(f"zero_grad() (line {z}) runs after step() (line {s}), so the "
                               f"gradients are cleared before the next backward() (line {b}): no "
                               f"leftover gradient at any of {len(steps)} steps")],
            why=("The loop repeats zero_grad -> backward -> step either way; clearing at the end of "
                 "one iteration is clearing at the start of the next."),
            fix="Nothing to change.",
            line=z, confidence=1.0,
        ))
    return found


def step_never_called(run: Run) -> list[Diagnosis]:
    """NBG305: backward() ran but no optimizer ever stepped (and no GradScaler skipped a step)."""
    if run.steps or run.error is not None or run.backward_calls == 0:
        return []
    if any(e.kind == "step_skipped" for e in run.events):
        return []  # NBG406
    if run.manual_steps:
        return []  # parameters are updated by hand (`p -= lr * p.grad`): that is a step too
    backward = facts.first_line(run, "backward")
    name = facts.optimizer_name(run)
    return [make(
        "NBG305", severity="error",
        title="optimizer.step() is never called: the weights never change",
        evidence=[Evidence(f"backward() was called {run.backward_calls} times (line {backward}), "
                           "but no optimizer.step() ran", value=float(run.backward_calls))],
        why="backward() only computes gradients; the optimizer's step() is what applies them.",
        fix=(f"Call {name or 'optimizer'}.step() after loss.backward() (line {backward}), and "
             f"{name or 'optimizer'}.zero_grad() before the next backward()."),
        fix_code=f"{name}.step()" if name else None,
        line=backward, confidence=0.9,
    )]


RULES = [grads_accumulate, manual_grads_accumulate, step_sees_no_grad, zero_grad_after_step,
         step_never_called]
