"""A loss that crashed because the model's output and the targets have different shapes.

torch first warns ("Using a target size (torch.Size([32])) that is different to the input size
(torch.Size([32, 3]))") and then fails with "The size of tensor a (3) must match the size of
tensor b (32)". The warning scrolls by above the traceback; this diagnosis puts it beside the
error as evidence, with the two shapes the loss received, and says what a beginner most likely
meant: class labels given to a regression loss (use cross_entropy), or a target of shape (N,)
against an output of shape (N, 1).
"""

from __future__ import annotations

import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LossCall, Run

SIZE_MISMATCH = re.compile(r"The size of tensor a \((\d+)\) must match the size of tensor b "
                           r"\((\d+)\)")
REGRESSION = {"mse_loss": ("cross_entropy", "MSELoss", "CrossEntropyLoss"),
              "l1_loss": ("cross_entropy", "L1Loss", "CrossEntropyLoss"),
              "smooth_l1_loss": ("cross_entropy", "SmoothL1Loss", "CrossEntropyLoss"),
              "huber_loss": ("cross_entropy", "HuberLoss", "CrossEntropyLoss")}


def shape(dims: list[int]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _failed_loss(run: Run) -> LossCall | None:
    """The loss call on the line that raised, when its two inputs differ in shape."""
    if run.error is None or not SIZE_MISMATCH.search(run.error.message):
        return None
    calls = [c for c in run.forward.losses if c.input_shape != c.target_shape
             and (c.line == run.error.line or run.error.line is None)]
    return calls[-1] if calls else None


def _class_labels(call: LossCall) -> bool:
    """Integer targets, one per sample, that index the output's columns: class labels."""
    target = call.target
    if "int" not in call.target_dtype or target is None or len(call.input_shape) != 2:
        return False
    columns = call.input_shape[1]
    return (call.target_shape == call.input_shape[:1] and target.min is not None
            and target.max is not None and target.min >= 0 and target.max < columns)


def _fix_line(run: Run, line: int | None, function: str) -> tuple[int | None, str | None]:
    """The line that picks the regression loss, and that line with the classification loss."""
    plain, module, replacement = REGRESSION[function]
    text = run.cell_line(line) if line else ""
    if function in text:
        return line, text.strip().replace(function, plain)
    criterion = re.search(r"(\w+)\s*\(", text)  # `loss = criterion(out, y)`: where it is made
    made = facts.line_matching(run, rf"^\s*{re.escape(criterion.group(1))}\s*=\s*.*{module}\(") \
        if criterion else None
    if made is not None:
        return made, run.cell_line(made).strip().replace(module, replacement)
    return line, None


def loss_shape_mismatch(run: Run) -> list[Diagnosis]:
    call = _failed_loss(run)
    if call is None or run.error is None:
        return []
    out, target = shape(call.input_shape), shape(call.target_shape)
    evidence = [Evidence(f"line {call.line} `{run.cell_line(call.line).strip()}`: "
                         f"{call.function} got the model's output of shape {out} and targets of "
                         f"shape {target} ({call.target_dtype})")]
    if call.warnings:
        evidence.append(Evidence(f"torch warned just before the error: \"{call.warnings[0]}\""))
    evidence.append(Evidence(f"then it failed: {run.error.type}: {run.error.message}"))
    if call.function in REGRESSION and _class_labels(call):
        columns = call.input_shape[1]
        t = call.target
        assert t is not None
        evidence.append(Evidence(f"the targets are whole numbers from {t.min:g} to {t.max:g}: "
                                 f"class labels for the model's {columns} outputs", t.max))
        line, code = _fix_line(run, call.line, call.function)
        return [make(
            "NBG911",
            title=(f"The loss got {columns} outputs per sample but one class label each: "
                   f"{call.function} compares numbers, cross_entropy compares classes"),
            evidence=evidence,
            why=(f"{call.function} measures the distance between two tensors of the same shape; "
                 f"class labels (0 to {columns - 1}) are not distances. cross_entropy takes the "
                 f"model's {columns} scores per sample and one class number per sample, exactly "
                 "what you have."),
            fix=(f"Use cross_entropy (nn.CrossEntropyLoss) instead of {call.function} for "
                 "classification; keep the targets as they are (whole numbers, shape "
                 f"{target})."),
            fix_code=code, line=line, confidence=0.95)]
    hint = ""
    if len(call.input_shape) == len(call.target_shape) + 1 and call.input_shape[-1] == 1:
        hint = (" Your output has an extra dimension of size 1: squeeze it "
                "(output.squeeze(1)) or give the targets the same shape (target.view(-1, 1)).")
    return [make(
        "NBG911",
        title=f"The loss got outputs of shape {out} but targets of shape {target}",
        evidence=evidence,
        why=(f"{call.function} compares the output with the target number by number, so both "
             "need the same shape; PyTorch tries to stretch them to fit (broadcasting) and fails."),
        fix=("Make the model's output and the targets the same shape before the loss "
             f"(print both .shape to compare).{hint}"),
        line=call.line, confidence=0.9)]


RULES = [loss_shape_mismatch]
