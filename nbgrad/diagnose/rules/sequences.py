"""Sequence models' layout: a recurrent layer that reads the batch axis as time."""

from __future__ import annotations

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run


def batch_first_mismatch(run: Run) -> list[Diagnosis]:
    """NBG871: an RNN built with batch_first=False gets (batch, time, features): the model's input
    and the labels count the batch along axis 0, which the RNN takes as time."""
    for rnn in run.forward.recurrent:
        shape = rnn.input_shape
        if rnn.batch_first or len(shape) != 3 or shape[0] == shape[1]:
            continue
        inputs = [i for i in run.forward.inputs if i.step == rnn.step]
        fed = inputs[0].summary.shape if inputs else []  # none recorded for token ids
        if fed and fed[0] != shape[0]:
            continue
        # one label per time step of each sequence (shape[0] * shape[1] of them) fits the
        # time-major reading as well: a tagger fed one sentence as (words, 1, features) is right
        targets = [c for c in run.forward.losses if c.step == rnn.step and c.target_shape
                   and c.target_shape[0] == shape[0]
                   and (len(c.target_shape) < 2 or c.target_shape[1] != shape[1])
                   and c.target_shape[0] != shape[0] * shape[1]]
        if not targets:
            continue
        target = targets[0]
        raised = run.error is not None and "batch_size" in run.error.message
        line = facts.constructor_line(run, rnn.layer, rnn.type)
        evidence = [
            Evidence(f"{rnn.layer} ({rnn.type}, batch_first=False) received {tuple(shape)} at step "
                     f"{rnn.step}: it reads {shape[0]} time steps of a batch of {shape[1]}",
                     float(shape[0]), rnn.layer, rnn.step),
            Evidence((f"the model's input is {tuple(fed)} and " if fed else "")
                     + f"the loss's target is {tuple(target.target_shape)}: {shape[0]} samples, "
                     "one label each"),
        ]
        if raised and run.error is not None:
            evidence.append(Evidence(f"line {run.error.line} raised {run.error.type}: "
                                     f"{run.error.message.splitlines()[0]}"))
        return [make(
            "NBG871", severity="error" if raised else "warning",
            title=f"{rnn.layer} treats the batch axis as time: the {rnn.type} is built without "
                  "batch_first=True",
            evidence=evidence,
            why=f"nn.{rnn.type} expects (time, batch, features) unless batch_first=True. Given "
                "(batch, time, features), it runs across the samples of the batch as if they "
                "were one sequence, mixing samples, and its last step (or h[-1]) belongs to the "
                "last sample, not to each sequence.",
            fix=f"Build the layer with batch_first=True (nn.{rnn.type}(..., batch_first=True)), or "
                "pass x.transpose(0, 1) and index the outputs as (time, batch, ...).",
            line=line, confidence=0.85, layers=[rnn.layer])]
    return []


RULES = [batch_first_mismatch]
