"""What the loss is computed over: a softmax taken across the batch instead of the classes,
padding positions that count as targets, a sum over the batch where the step was sized for a
mean."""

from __future__ import annotations

import statistics

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.facts import fmt, percent
from nbgrad.records import Normaliser, Run
from nbgrad.thresholds import PAD_SHARE_MIN, PAD_SUFFIX_ROWS_MIN, UPDATE_RATIO_LARGE


def _batch_size(run: Run) -> int | None:
    inputs = run.forward.inputs
    shape = inputs[0].summary.shape if inputs else []
    return shape[0] if shape else None


def _feeds_loss(run: Run, n: Normaliser) -> bool:
    return n.is_model_output or any(c.input_from == n.op and c.input_from_line == n.line
                                    for c in run.forward.losses)


def softmax_over_batch(run: Run) -> list[Diagnosis]:
    """NBG811: the softmax that makes the model's output normalises over axis 0, the batch."""
    batch = _batch_size(run)
    if batch is None or batch < 2:
        return []
    for n in run.forward.normalisers:
        if (n.op not in ("softmax", "log_softmax") or n.dim != 0 or len(n.shape) < 2
                or n.shape[0] != batch or not _feeds_loss(run, n)):
            continue
        built = facts.constructor_line(run, n.layer, n.layer_type, r"dim\s*=\s*0") \
            if n.layer_type in ("Softmax", "LogSoftmax") else None
        line = None if n.where else built or n.line
        module = f"nn.{n.layer_type}(dim=0)" if built else f"{n.op}(..., dim=0)"
        classes = n.shape[1]
        return [make(
            "NBG811", severity="error",
            title=f"{module} normalises over the batch, not over the {classes} classes",
            evidence=[
                Evidence(f"{facts.place(run, n.line, n.where)} applies {n.op} over dim 0 of a "
                         f"{tuple(n.shape)} output; the model's input batch has {batch} samples",
                         float(batch), n.layer or None, n.step),
                Evidence(f"so each column (one class over the {batch} samples) sums to 1, and "
                         f"each sample's {classes} class probabilities do not"),
            ],
            why="Softmax over dim 0 makes the samples of a batch compete with each other: a "
                "sample's probabilities depend on the other samples in its batch and do not sum "
                "to 1, so the loss trains the wrong thing and predictions change with the batch "
                "size (with a single sample every probability is 1).",
            fix="Normalise over the classes: dim=1 (or dim=-1) for (batch, classes) outputs."
                + (f" The {n.op} is in {n.where}, outside this cell." if n.where else ""),
            line=line, confidence=0.9, layers=[n.layer] if n.layer else [])]
    return []


def padding_in_loss(run: Run) -> list[Diagnosis]:
    """NBG812: one label fills the end of most target rows and the loss does not ignore it."""
    for call in run.forward.losses:
        stats = call.labels
        if (stats is None or stats.pad_value is None or stats.pad_share is None
                or stats.pad_suffix_rows is None or call.ignore_index == stats.pad_value):
            continue
        if stats.pad_share < PAD_SHARE_MIN or stats.pad_suffix_rows < PAD_SUFFIX_ROWS_MIN:
            continue
        pad = stats.pad_value
        return [make(
            "NBG812", severity="warning",
            title=f"Padding counts in the loss: label {pad} fills the end of the targets and is "
                  "not ignored",
            evidence=[
                Evidence(f"label {pad} is {percent(stats.pad_share)} of the {tuple(call.target_shape)}"
                         f" targets at step {call.step}, and fills the end of "
                         f"{percent(stats.pad_suffix_rows)} of the rows after other labels",
                         stats.pad_share, call.layer or None, call.step),
                Evidence(f"the loss's ignore_index is {call.ignore_index}, so every padding "
                         "position is a target"),
            ],
            why="Padding positions are not content: trained on them, the model spends most of its "
                "gradient learning to predict padding (after a short prefix, an easy rule), the "
                "loss looks good and falls fast, while the real tokens are learnt slowly.",
            fix=f"Leave the padding out of the loss: ignore_index={pad} in "
                "F.cross_entropy / nn.CrossEntropyLoss (or mask those positions).",
            line=call.line, confidence=0.85, layers=[call.layer] if call.layer else [])]
    return []


def summed_loss(run: Run) -> list[Diagnosis]:
    """NBG813: reduction='sum' makes each step batch-size times a mean's, and the steps are
    measured too large (or the loss became NaN/Inf)."""
    calls = [c for c in run.forward.losses if c.reduction == "sum" and c.input_shape
             and c.input_shape[0] >= 2]
    if not calls or not run.optimizers or facts.adversarial(run):
        return []
    call = calls[0]
    ratios = facts.layer_update_ratios(run, 0)
    typical = statistics.median(ratios.values()) if ratios else 0.0
    nonfinite = facts.loss_nonfinite(run)
    if typical < UPDATE_RATIO_LARGE and not nonfinite:
        return []
    batch = call.input_shape[0]
    lrs = facts.lr_series(run, 0)
    trend = facts.loss_trends(run)
    evidence = [
        Evidence(f"{NAMES.get(call.function, call.function)} at line {call.line} sums over "
                 f"{batch} samples (reduction='sum'): its gradient is {batch}x the mean's",
                 float(batch), call.layer or None, call.step),
        Evidence(f"each step changed the weights by {fmt(typical)} of their size (median over "
                 f"layers; healthy: below {fmt(UPDATE_RATIO_LARGE)})"
                 + (f" at lr={fmt(lrs[0])}" if lrs else ""), typical),
    ]
    evidence += [Evidence(t.text(), t.last) for t in trend]
    if nonfinite:
        evidence.append(Evidence("the loss became NaN/Inf"))
    line = facts.constructor_line(run, call.layer, _LOSS_CLASS.get(call.function, ""),
                                  r"reduction\s*=\s*['\"]sum") if call.layer else None
    return [make(
        "NBG813", severity="error" if nonfinite else "warning",
        title=f"The loss is summed over the batch of {batch}: the steps are {batch}x those of a "
              "mean, too large for this learning rate",
        evidence=evidence,
        why="With reduction='sum' the loss, and its gradient, grow with the batch size; a "
            "learning rate that suits the mean (the default, and what tutorials tune) then takes "
            "steps batch-size times too large, and the loss oscillates or diverges. Either cause "
            "can be fixed: the sum, or the rate.",
        fix=f"Use reduction='mean' (the default), or divide the learning rate by {batch}.",
        line=line or call.line, confidence=0.8, layers=[call.layer] if call.layer else [],
        explains=["NBG403", "NBG702", "NBG703"] + (["NBG503"] if nonfinite else []))]


_LOSS_CLASS = {"cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss", "mse_loss": "MSELoss",
               "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
               "binary_cross_entropy": "BCELoss", "kl_div": "KLDivLoss",
               "binary_cross_entropy_with_logits": "BCEWithLogitsLoss"}
NAMES = {**_LOSS_CLASS, "subtraction": "prediction - target"}


RULES = [softmax_over_batch, padding_in_loss, summed_loss]
