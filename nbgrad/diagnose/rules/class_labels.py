"""Class labels given to a regression loss: MSELoss / L1Loss between a model's outputs and the
integer labels of a classification task, the mistake of a first classifier.

Two forms: C outputs against one label per sample (torch warns about the sizes and then raises),
and one output trained to hit the label's number (it runs, and treats the classes as ordered
quantities). The records say what the target holds (only whole numbers, how many); the cell's
text only says where the fix goes.
"""

from __future__ import annotations

import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import CLASS_LEVELS_MIN

_MODULES = {"mse_loss": "MSELoss", "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss",
            "huber_loss": "HuberLoss"}
_CAST = re.compile(r"\.float\(\)|\.to\(\s*(torch\.)?float|\.type\(\s*torch\.float|float32|"
                   r"\.double\(\)")


def _integer_typed(call: LossCall) -> bool:
    return not call.target_dtype.startswith(("float", "bfloat", "complex"))


def _cast_line(run: Run, call: LossCall) -> int | None:
    """The line that turns the labels into floats for the loss: the loss call itself
    (`criterion(out, y.float())`) or the assignment of its target argument."""
    text = run.cell_line(call.line)
    args = facts.call_arguments(text, call.layer or call.function)
    target = args[1] if len(args) >= 2 else ""
    if _CAST.search(target):
        return call.line
    name = re.match(r"^[A-Za-z_]\w*", target)
    made = facts.assignment_line(run, name.group(0), call.line) if name else None
    return made if made is not None and _CAST.search(run.cell_line(made)) else None


def _loss_line(run: Run, call: LossCall) -> int | None:
    """Where the loss is chosen: the line building the loss module, else the call."""
    return facts.loss_built_line(run, call, _MODULES.get(call.function, ""))


def _fix_code(run: Run, line: int | None, call: LossCall) -> str | None:
    text = run.cell_line(line)
    module = _MODULES.get(call.function, "")
    fixed = re.sub(rf"\b{module}\(", "CrossEntropyLoss(", text, count=1) if module else text
    if fixed == text:
        fixed = re.sub(rf"\b{call.function}\(", "cross_entropy(", text, count=1)
    return fixed.strip() if fixed != text else None


def _labels_text(call: LossCall, levels: int) -> str:
    assert call.target is not None and call.target.max is not None
    return (f"only the whole numbers 0 to {call.target.max:.0f} ({levels} different values"
            f"{', stored as integers' if _integer_typed(call) else ''})")


def regression_on_class_labels(run: Run) -> list[Diagnosis]:
    """NBG814: a regression loss whose targets are class labels."""
    seen: set[tuple[str, int | None]] = set()
    for call in run.forward.losses:
        if (call.function, call.line) in seen or call.function not in _MODULES:
            continue
        seen.add((call.function, call.line))
        found = _many_outputs(run, call) or _one_output(run, call)
        if found is not None:
            return [found]
    return []


def _many_outputs(run: Run, call: LossCall) -> Diagnosis | None:
    """(N, C) outputs against (N,) labels in 0..C-1: the labels index the outputs."""
    inp, tgt, t, levels = call.input_shape, call.target_shape, call.target, call.target_levels
    if (len(inp) != 2 or tgt != inp[:1] or inp[1] < 2 or levels is None or levels < 2
            or t is None or t.min is None or t.max is None or t.min < 0 or t.max >= inp[1]):
        return None
    name = _MODULES[call.function]
    classes = inp[1]
    evidence = [Evidence(f"{name} at line {call.line} compares predictions of shape {tuple(inp)} "
                         f"with targets of shape {tuple(tgt)} that hold {_labels_text(call, levels)}"
                         f": one class label per sample, and {classes} outputs per sample",
                         float(classes), call.layer or None, call.step)]
    evidence += [Evidence(f"torch warned: {w}") for w in call.warnings[:1]]
    raised = run.error is not None and run.error.line == call.line
    if raised and run.error is not None:
        evidence.append(Evidence(f"line {run.error.line} raised {run.error.type}: "
                                 f"{run.error.message.splitlines()[0]}"))
    line = _loss_line(run, call)
    return make(
        "NBG814", severity="error",
        title=f"{name} is given class labels: {classes} outputs per sample against one label "
              f"each; a classification loss reads labels, {name} does not",
        evidence=evidence,
        why=f"{name} measures how far each output number is from a target number, so it needs "
            f"as many targets as outputs. Your targets are class labels (which of {classes} "
            "classes a sample belongs to), so the shapes cannot match"
            + (" and torch stops." if raised else ".")
            + " Classification needs nn.CrossEntropyLoss, which reads each label as the index "
              "of the output that should be largest.",
        fix=f"Use nn.CrossEntropyLoss() instead of nn.{name}(): keep the {classes} outputs (raw "
            "scores, no softmax) and pass the labels as they are (integers, dtype long).",
        fix_code=_fix_code(run, line, call), line=line, confidence=0.9,
        layers=[call.layer] if call.layer else [],
        explains=["NBG911"] if raised else [])  # the shape crash is what the labels caused


def _one_output(run: Run, call: LossCall) -> Diagnosis | None:
    """One output per sample trained to equal labels 0..K-1, all of which occur: a classifier
    written as a regression. The labels must be integers in the records or turned into floats
    by the cell, so that counts or ratings measured as numbers are not taken for classes."""
    inp, tgt, t, levels = call.input_shape, call.target_shape, call.target, call.target_levels
    single = [d for d in inp[1:] if d != 1] == [] and [d for d in tgt[1:] if d != 1] == []
    if (not inp or not single or levels is None or levels < CLASS_LEVELS_MIN or t is None
            or t.min != 0 or t.max is None or t.max + 1 != levels):
        return None
    cast = None if _integer_typed(call) else _cast_line(run, call)
    if not _integer_typed(call) and cast is None:
        return None
    name = _MODULES[call.function]
    evidence = [Evidence(f"{name} at line {call.line} compares 1 output per sample with targets "
                         f"that hold {_labels_text(call, levels)}, every one of them in the batch "
                         f"at step {call.step}", float(levels), call.layer or None, call.step)]
    if cast is not None:
        evidence.append(Evidence(f"line {cast} `{run.cell_line(cast).strip()}` turns the labels "
                                 "into floats for the loss"))
    evidence += [Evidence(t.text(), t.last) for t in facts.loss_trends(run)[:1]]
    line = _loss_line(run, call)
    high = f"{t.max:.0f}"
    return make(
        "NBG814", severity="warning",
        title=f"{name} treats the class labels 0 to {high} as numbers: a model with 1 output is "
              "doing regression on classes",
        evidence=evidence,
        why=f"With {name} the model learns to output a number close to the label: 1.4 means "
            f"neither class 1 nor class 2, and class {high} counts as {high} times class 1, an "
            "order and distance the classes do not have. The loss can fall while the model "
            "still mixes up classes.",
        fix=f"Give the last layer one output per class (nn.Linear(..., {levels})) and use "
            "nn.CrossEntropyLoss() with the labels as integers (y.long(); no .float(), no squeeze "
            "of the output). Predict with output.argmax(dim=1).",
        # no line of code: the loss alone is not the fix, the last layer and the labels change too
        line=line, confidence=0.8,
        layers=[call.layer] if call.layer else [])


RULES = [regression_on_class_labels]
