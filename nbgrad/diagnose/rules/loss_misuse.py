"""Loss functions given the wrong thing: probabilities where scores are expected, shapes that
broadcast, class labels out of range."""

from __future__ import annotations

import math

from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import PROBABILITY_SUM_TOLERANCE

NAMES = {"cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss", "mse_loss": "MSELoss",
         "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
         "binary_cross_entropy": "BCELoss",
         "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "subtraction": "prediction - target"}


def _once(run: Run) -> list[LossCall]:
    """One call per (function, line): the first window's, which the fix is about."""
    seen: dict[tuple[str, int | None], LossCall] = {}
    for call in run.forward.losses:
        seen.setdefault((call.function, call.line), call)
    return list(seen.values())


def _probabilities(call: LossCall) -> bool:
    """Every value in [0, 1] and the rows sum to 1: what softmax makes."""
    return (call.input_min is not None and call.input_max is not None
            and call.input_min >= 0 and call.input_max <= 1
            and call.input_row_sum_error is not None
            and call.input_row_sum_error <= PROBABILITY_SUM_TOLERANCE)


def _where(call: LossCall) -> str:
    return f" (line {call.input_from_line})" if call.input_from_line else ""


def _diag(call: LossCall, code: str, title: str, evidence: list[Evidence], why: str,
          fix: str) -> Diagnosis:
    return make(code, title=title, evidence=evidence, why=why, fix=fix, line=call.line,
                confidence=1.0, layers=[call.layer] if call.layer else [])


def loss_input_misuse(run: Run) -> list[Diagnosis]:
    found = []
    for call in _once(run):
        name = NAMES.get(call.function, call.function)
        made = call.input_from
        seen = Evidence(f"{name} received values in [{call.input_min:.3g}, {call.input_max:.3g}] "
                        f"made by {made or 'a layer'}(){_where(call)}", call.input_max, call.layer or None,
                        call.step) if call.input_min is not None and call.input_max is not None else None
        if call.function == "cross_entropy" and call.classes and (
                made in ("softmax", "sigmoid") or (made != "log_softmax" and _probabilities(call))):
            floor = -math.log(math.e / (math.e + call.classes - 1))
            found.append(_diag(
                call, "NBG801",
                f"{(made or 'softmax').capitalize()} is applied before CrossEntropyLoss, which applies "
                "log_softmax itself",
                [e for e in (seen,) if e] + [Evidence(
                    f"with {call.classes} classes and inputs in [0, 1] the loss can never go below "
                    f"{floor:.3g}", floor)],
                "CrossEntropyLoss expects raw scores (logits). Squashed into [0, 1] first, the "
                "scores of all classes stay close together: the loss cannot get near 0 and its "
                "gradients are weak.",
                f"Pass the raw output to the loss: remove the {made or 'softmax'}{_where(call)} from "
                "the model; apply softmax only where you need probabilities (predictions, metrics)."))
        elif call.function == "binary_cross_entropy_with_logits" and made in ("sigmoid", "softmax"):
            found.append(_diag(
                call, "NBG801",
                f"{made.capitalize()} is applied before BCEWithLogitsLoss, which applies sigmoid itself",
                [e for e in (seen,) if e] + [Evidence(
                    "a second sigmoid maps [0, 1] to [0.5, 0.73]: for a target of 0 the loss can "
                    "never go below 0.69", 0.693)],
                "BCEWithLogitsLoss expects raw scores (logits); the sigmoid is applied twice, so "
                "predictions can never approach 0 or 1.",
                f"Pass the raw output to BCEWithLogitsLoss: remove the {made}{_where(call)}; or keep "
                "it and use nn.BCELoss (less stable numerically)."))
        elif call.function == "cross_entropy" and made == "log_softmax":
            found.append(_diag(
                call, "NBG802",
                "log_softmax before CrossEntropyLoss is redundant (harmless)",
                [e for e in (seen,) if e],
                "CrossEntropyLoss applies log_softmax itself; applying it twice gives the same "
                "loss, so this costs a little time but does not hurt training.",
                "Either return raw scores and keep CrossEntropyLoss, or keep log_softmax and use "
                "nn.NLLLoss."))
        elif call.function == "nll_loss" and call.input_max is not None and (
                made in ("softmax", "sigmoid") or call.input_max > PROBABILITY_SUM_TOLERANCE):
            probs = made in ("softmax", "sigmoid") or _probabilities(call)
            what = "probabilities" if probs else "raw scores"
            found.append(_diag(
                call, "NBG803",
                f"NLLLoss is given {what}, not log-probabilities",
                [e for e in (seen,) if e] + [Evidence(
                    "log-probabilities are all <= 0; the largest value here is "
                    f"{call.input_max:.3g}", call.input_max)],
                "NLLLoss only picks -input[target]: "
                + ("with probabilities the loss is stuck between -1 and 0 and ignores how wrong "
                   "the other classes are." if probs else
                   "with raw scores it falls without bound as the target score grows, so the loss "
                   "goes to -infinity instead of learning."),
                "Use nn.CrossEntropyLoss on the raw scores, or apply F.log_softmax(output, dim=1) "
                "before NLLLoss."))
    return found


def loss_target_misuse(run: Run) -> list[Diagnosis]:
    found = []
    for call in _once(run):
        name = NAMES.get(call.function, call.function)
        target = call.target
        if call.broadcast_shape is not None:
            inp, tgt = tuple(call.input_shape), tuple(call.target_shape)
            squeeze = "output.squeeze(1)" if inp[-1:] == (1,) and len(inp) == len(tgt) + 1 else None
            unsqueeze = "target.unsqueeze(1)" if tgt[-1:] != (1,) and len(tgt) + 1 == len(inp) else None
            found.append(_diag(
                call, "NBG804",
                f"{name} compares shapes {inp} and {tgt}, which broadcast to "
                f"{tuple(call.broadcast_shape)}",
                [Evidence(f"prediction {inp}, target {tgt}: broadcasting makes "
                          f"{math.prod(call.broadcast_shape)} pairs instead of "
                          f"{max(math.prod(inp), math.prod(tgt))}", math.prod(call.broadcast_shape),
                          call.layer or None, call.step)],
                "Every prediction is compared with every target, not with its own: the loss is "
                "minimised by predicting the mean target for all examples.",
                "Make the shapes equal before the loss: "
                + " or ".join(x for x in (squeeze, unsqueeze) if x) if (squeeze or unsqueeze) else
                "Make the prediction and target shapes equal before the loss (reshape one of them)."))
        low, high = call.label_min, call.label_max  # labels other than ignore_index
        if (call.classes and low is not None and high is not None
                and (high >= call.classes or low < 0)):
            one_based = low >= 1 and high == call.classes
            found.append(_diag(
                call, "NBG805",
                f"Class labels run from {low:.0f} to {high:.0f}, but the model "
                f"outputs {call.classes} classes (0 to {call.classes - 1})",
                [Evidence(f"{name} target: min {low:.0f}, max {high:.0f} (ignore_index "
                          f"{call.ignore_index} left out); input shape {tuple(call.input_shape)}",
                          high, call.layer or None, call.step)],
                "A label must index one of the model's outputs; an out-of-range label raises "
                "an error on the CPU and a device-side assert on the GPU.",
                "The labels look 1-based: use target - 1." if one_based else
                f"Give the last layer as many outputs as there are classes "
                f"({high:.0f} + 1), or map the labels to 0..{call.classes - 1}."))
        if (call.function.startswith("binary_cross_entropy") and target is not None
                and target.min is not None and target.max is not None
                and (target.min < 0 or target.max > 1)):
            found.append(_diag(
                call, "NBG806",
                f"{name} targets run from {target.min:.3g} to {target.max:.3g}, outside [0, 1]",
                [Evidence(f"target min {target.min:.3g}, max {target.max:.3g}", target.max,
                          call.layer or None, call.step)],
                "Binary cross-entropy treats the target as a probability; values outside [0, 1] "
                "make a loss without a minimum where you expect one.",
                "For two classes use targets 0. and 1.; for more classes use nn.CrossEntropyLoss "
                "with integer labels."))
    return found
