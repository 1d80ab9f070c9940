"""Modules in the wrong mode for training: the model left in eval(), BatchNorm on batches of one."""

from __future__ import annotations

import ast

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run

MODE_DEPENDENT = ("Dropout", "BatchNorm")  # type names whose forward differs in train and eval
BATCH_ONE_ERROR = "Expected more than 1 value per channel when training"


def _mode_dependent(type_name: str) -> bool:
    return any(part in type_name for part in MODE_DEPENDENT)


def eval_mode_training(run: Run) -> list[Diagnosis]:
    """A model called in eval mode whose Dropout/BatchNorm layers sit on the gradient's path."""
    updated = any(p.update_norm for s in run.steps for p in s.params.values())
    if not updated:
        return []
    calls = run.forward.modules
    for step in run.forward.windows:
        ran = [c for c in calls if c.step == step and c.root_layer == c.layer]
        # a model also called in train mode in this iteration (an evaluation pass beside the
        # training pass) is not training in eval mode
        roots = {c.layer for c in ran if not c.training} - {c.layer for c in ran if c.training}
        affected = [c for c in calls if c.step == step and c.root_layer in roots and c.layer not in roots
                    and _mode_dependent(c.type) and not c.training and c.output_requires_grad]
        if not affected:
            continue
        root = affected[0].root_layer
        names = ", ".join(f"'{c.layer}' ({c.type})" for c in affected[:6])
        first_train = next((c for c in calls if c.layer == root and c.training), None)
        evidence = [Evidence(f"'{root}'.training was False when it ran at step {step}", 0.0, root, step),
                    Evidence(f"layers that behave differently in eval mode: {names}", len(affected))]
        if first_train is not None and first_train.step < step:
            evidence.append(Evidence(f"it was still in train mode at step {first_train.step}: "
                                     "something switched it to eval() during the loop", 1.0, root,
                                     first_train.step))
        line = _train_line(run, root)
        return [make(
            "NBG651", severity="warning",
            title=f"'{root}' is in eval mode while it trains: dropout is off and BatchNorm does not "
                  "learn batch statistics",
            evidence=evidence,
            why="In eval mode Dropout does nothing and BatchNorm normalises with its running "
                "averages instead of the batch: the model trains without regularisation and its "
                "normalisation statistics never adapt to the data.",
            fix=f"Call {root}.train() before the training loop, and again after each evaluation "
                f"that calls {root}.eval().",
            fix_code=f"{root}.train()", line=line, confidence=0.9, layers=[c.layer for c in affected])]
    return []


def _train_line(run: Run, root: str) -> int | None:
    """Where model.train() belongs: the eval() call itself when the cell switches the model to eval
    mode once, at the top, for no other reason (replace it); the start of the loop body when an
    evaluation inside the training loop leaves it in eval mode; otherwise just before the training
    loop (an evaluation in a helper function, or in an earlier cell)."""
    evals = [line for line, receiver in facts.method_calls(run, "eval")
             if receiver.split(".")[-1] == root.split(".")[-1] or receiver == "self"]
    backward = facts.first_line(run, "backward")
    loops = facts.loop_chain(run, backward)
    for line in evals:
        around = facts.loop_chain(run, line)
        shared = [a for a, b in zip(around, loops) if a == b]
        if shared:
            body = facts.loop_body_lines(run, shared[-1])
            return body[0] if body else shared[-1]
        if not around and facts.function_of(run, line) is None and (not loops or line < loops[0]):
            return line
    return loops[0] if loops else (evals[0] if evals else None)


def _loader_line(run: Run, line: int | None) -> int | None:
    """The line that builds the DataLoader the batch at `line` comes from (`for xb, yb in loader`)."""
    read = set(facts.names_read(run, line))
    for loop in reversed(facts.loops_around(run, line)):
        if not isinstance(loop, (ast.For, ast.AsyncFor)) or not isinstance(loop.iter, ast.Name):
            continue
        targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        built = facts.constructed_by(run, loop.iter.id)
        if targets & read and built is not None and built[1].endswith("DataLoader"):
            return built[0]
    return None


def batchnorm_batch_of_one(run: Run) -> list[Diagnosis]:
    if run.error is not None and BATCH_ONE_ERROR in run.error.message:
        return [make(
            "NBG652", severity="error",
            title="BatchNorm got a batch of one example while training",
            evidence=[Evidence(f"{run.error.type}: {run.error.message}", 1.0)],
            why="BatchNorm normalises each feature with the batch's mean and variance; with one "
                "example there is no variance to compute.",
            fix="Train on batches of more than one example (DataLoader(..., batch_size=32, "
                "drop_last=True) also drops a last batch of one), or use nn.LayerNorm / "
                "nn.GroupNorm, which normalise each example on its own.",
            line=_loader_line(run, run.error.line) or run.error.line, confidence=1.0)]
    ones = [c for c in run.forward.modules
            if "BatchNorm" in c.type and c.training and c.batch_size == 1]
    if not ones:
        return []
    names = sorted({c.layer for c in ones})
    return [make(
        "NBG652", severity="warning",
        title=f"BatchNorm layer {', '.join(repr(n) for n in names)} trains on batches of one example",
        evidence=[Evidence(f"'{c.layer}' ({c.type}) received a batch of 1 at step {c.step}", 1.0, c.layer,
                           c.step) for c in ones[:4]],
        why="With one example BatchNorm normalises it by its own statistics: the noise is large, "
            "and the running averages it uses in eval mode do not match what it saw in training.",
        fix="Use batches of 16 or more examples, or replace BatchNorm with nn.GroupNorm / "
            "nn.LayerNorm, which do not depend on the batch.",
        line=_loader_line(run, next((i.line for i in run.forward.inputs), None)),
        confidence=0.9, layers=names)]
