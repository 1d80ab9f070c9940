"""Loss functions given the wrong thing: probabilities where scores or log-probabilities are
expected, scores where probabilities are, shapes that broadcast, class labels out of range.

The line of a fix is where the wrong thing was made: the softmax applied in forward() or the
nn.Softmax in the model, not the loss call, which only receives it.
"""

from __future__ import annotations

import math

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import PROBABILITY_SUM_TOLERANCE

NAMES = {"cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss", "mse_loss": "MSELoss",
         "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
         "binary_cross_entropy": "BCELoss", "kl_div": "KLDivLoss", "ctc_loss": "CTCLoss",
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


def _where(run: Run, call: LossCall) -> str:
    line, outside = facts.input_made_at(run, call)
    if outside:
        return f" (in {outside}, outside this cell)"
    return f" (line {line})" if line else ""


def _diag(call: LossCall, code: str, title: str, evidence: list[Evidence], why: str,
          fix: str, line: int | None = None) -> Diagnosis:
    return make(code, title=title, evidence=evidence, why=why, fix=fix,
                line=call.line if line is None else line,
                confidence=1.0, layers=[call.layer] if call.layer else [])


def _made_line(run: Run, call: LossCall) -> int | None:
    """Where the input's softmax/sigmoid was applied; the loss call when outside the cell (the
    evidence then says where)."""
    line, outside = facts.input_made_at(run, call)
    return call.line if outside or line is None else line


def loss_input_misuse(run: Run) -> list[Diagnosis]:
    found = []
    for call in _once(run):
        name = NAMES.get(call.function, call.function)
        made = call.input_from
        seen = Evidence(f"{name} received values in [{call.input_min:.3g}, {call.input_max:.3g}] "
                        f"made by {made or 'a layer'}(){_where(run, call)}", call.input_max,
                        call.layer or None, call.step) \
            if call.input_min is not None and call.input_max is not None else None
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
                f"Pass the raw output to the loss: remove the {made or 'softmax'}{_where(run, call)} from "
                "the model; apply softmax only where you need probabilities (predictions, metrics).",
                _made_line(run, call)))
        elif call.function == "binary_cross_entropy_with_logits" and made in ("sigmoid", "softmax"):
            found.append(_diag(
                call, "NBG801",
                f"{made.capitalize()} is applied before BCEWithLogitsLoss, which applies sigmoid itself",
                [e for e in (seen,) if e] + [Evidence(
                    "a second sigmoid maps [0, 1] to [0.5, 0.73]: for a target of 0 the loss can "
                    "never go below 0.69", 0.693)],
                "BCEWithLogitsLoss expects raw scores (logits); the sigmoid is applied twice, so "
                "predictions can never approach 0 or 1.",
                f"Pass the raw output to BCEWithLogitsLoss: remove the {made}{_where(run, call)}; or keep "
                "it and use nn.BCELoss (less stable numerically).", _made_line(run, call)))
        elif call.function == "cross_entropy" and made == "log_softmax":
            found.append(_diag(
                call, "NBG802",
                "log_softmax before CrossEntropyLoss is redundant (harmless)",
                [e for e in (seen,) if e],
                "CrossEntropyLoss applies log_softmax itself; applying it twice gives the same "
                "loss, so this costs a little time but does not hurt training.",
                "Either return raw scores and keep CrossEntropyLoss, or keep log_softmax and use "
                "nn.NLLLoss.", _made_line(run, call)))
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
                (f"Apply log_softmax instead of the {made}{_where(run, call)}, or return raw "
                 "scores and use nn.CrossEntropyLoss." if probs else
                 "Use nn.CrossEntropyLoss on the raw scores, or apply F.log_softmax(output, dim=1) "
                 "before NLLLoss."),
                _made_line(run, call) if probs and made in ("softmax", "sigmoid") else
                facts.loss_built_line(run, call, "NLLLoss")))
        elif call.function == "binary_cross_entropy" and made not in ("sigmoid", "softmax") and (
                _outside_unit(call) or _raised(run, "should be between 0 and 1")):
            found.append(_bce_on_scores(run, call, seen))
        elif call.function in ("kl_div", "ctc_loss") and call.input_max is not None \
                and call.input_max > PROBABILITY_SUM_TOLERANCE:
            found.append(_not_log_probabilities(run, call, seen))
    return found


def _outside_unit(call: LossCall) -> bool:
    return (call.input_min is not None and call.input_max is not None
            and (call.input_min < 0 or call.input_max > 1))


def _raised(run: Run, text: str) -> bool:
    return run.error is not None and text in run.error.message


def _bce_on_scores(run: Run, call: LossCall, seen: Evidence | None) -> Diagnosis:
    """NBG807: BCELoss takes log(p) and log(1 - p); raw scores outside [0, 1] have neither.

    The first batch's scores can happen to lie in [0, 1]; torch then raises on a later one, and
    the records still say what made them (a layer, not a sigmoid)."""
    evidence = [e for e in (seen,) if e]
    if _outside_unit(call):
        evidence.append(Evidence(
            f"{call.input_min:.3g} to {call.input_max:.3g} are not probabilities: BCELoss needs "
            "every value in [0, 1]", call.input_max, call.layer or None, call.step))
    else:
        evidence.append(Evidence(
            f"no sigmoid comes between {call.input_from or 'the last layer'}() and the loss: its "
            f"values lay in [0, 1] at step {call.step} only by chance", call.input_max,
            call.layer or None, call.step))
    if run.error is not None and "between 0 and 1" in run.error.message:
        evidence.append(Evidence(f"line {run.error.line} raised {run.error.type}: "
                                 f"{run.error.message.splitlines()[0]}"))
    return _diag(
        call, "NBG807", "BCELoss is given raw scores, not probabilities: the output has no sigmoid",
        evidence,
        "Binary cross-entropy computes log(p) and log(1 - p) of its input, so the input must be a "
        "probability. The model's last layer returns raw scores (any real number); torch stops "
        "with an error on the first value outside [0, 1].",
        "Use nn.BCEWithLogitsLoss on the raw scores (it applies the sigmoid itself, in a "
        "numerically stable way); or apply torch.sigmoid to the output before nn.BCELoss.",
        facts.loss_built_line(run, call, "BCELoss"))


def _not_log_probabilities(run: Run, call: LossCall, seen: Evidence | None) -> Diagnosis:
    """NBG808 (KLDivLoss) and NBG809 (CTCLoss): both take log-probabilities as their input."""
    name = NAMES[call.function]
    made = call.input_from
    probs = made in ("softmax", "sigmoid") or _probabilities(call)
    what = "probabilities" if probs else "raw scores"
    axis = "the last axis" if call.function == "kl_div" else "the classes (dim=2)"
    evidence = [e for e in (seen,) if e] + [Evidence(
        f"log-probabilities are all <= 0; the largest value here is {call.input_max:.3g}",
        call.input_max, call.layer or None, call.step)]
    if call.input_log_sum_error is not None:
        evidence.append(Evidence(
            f"exp of the input sums to 1 along {axis} only within {call.input_log_sum_error:.3g} "
            "in log space (log_softmax: within 1e-6)", call.input_log_sum_error))
    kl = call.function == "kl_div"
    why = ("KLDivLoss computes target * (log(target) - input): it takes the input to be a "
           "log-probability. Given probabilities, it rewards making the predicted probability of "
           "each class as large as possible where the target is large, not matching the target: "
           "the loss goes negative and the distribution does not follow the target."
           if kl else
           "CTCLoss adds and compares log-probabilities of the classes over the frames; raw scores "
           "or probabilities are not normalised in log space, so the loss can go negative and the "
           "alignment it learns means nothing.")
    fix = (f"Apply log_softmax instead of the {made}{_where(run, call)} (same dim)."
           if probs and made == "softmax" else
           f"Pass {'F.log_softmax(output, dim=-1)' if kl else 'output.log_softmax(2)'} "
           f"to {name}, not the {what}.")
    line = _made_line(run, call) if probs and made in ("softmax", "sigmoid") else call.line
    title = f"{name} is given {what}, not log-probabilities"
    if kl:
        return _diag(call, "NBG808", title, evidence, why, fix, line)
    return _diag(call, "NBG809", title, evidence, why, fix, line)


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
