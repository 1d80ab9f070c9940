"""A loss whose minimum lies away from the targets: it falls while the predictions get worse."""

from __future__ import annotations

import re

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import AWAY_COSINE


def loss_pushes_away(run: Run) -> list[Diagnosis]:
    groups: dict[tuple[str, int | None], list[LossCall]] = {}
    for call in run.forward.losses:
        if call.descent_alignment is not None and call.input_is_model_output:
            groups.setdefault((call.function, call.line), []).append(call)
    return [d for (_, line), calls in groups.items() if (d := _pushes_away(run, line, calls))]


def _pushes_away(run: Run, line: int | None, calls: list[LossCall]) -> Diagnosis | None:
    """NBG711 when every call's descent points away from the targets and they moved away."""
    alignments = facts.finite(c.descent_alignment for c in calls)
    if len(alignments) < len(calls) or not all(a <= AWAY_COSINE for a in alignments):
        return None
    distances = [(c.step, c.distance) for c in calls if c.distance is not None]
    if len(distances) >= 2 and distances[-1][1] <= distances[0][1]:
        return None  # pointing away but not moving away: leave it to the loss-trend rules
    classes = calls[0].classes is not None
    towards = "the labelled class" if classes else "the targets"
    evidence = [Evidence(
        f"at step {c.step}, a gradient step moves the predictions at an angle whose cosine with "
        f"the direction towards {towards} is {a:.2f} (1: straight towards, -1: straight away)",
        a, None, c.step) for c, a in zip(calls, alignments)]
    if len(distances) >= 2:
        (s0, d0), (s1, d1) = distances[0], distances[-1]
        evidence.append(Evidence(f"RMS distance between predictions and targets grew from "
                                 f"{d0:.4g} (step {s0}) to {d1:.4g} (step {s1})", d1))
    evidence += [Evidence(t.text(), t.last) for t in facts.loss_trends(run)]
    text = run.cell_line(line)
    fix_code: str | None = None
    if re.search(r"(^|[^\w.])1\.?0*\s*/", text):
        cause = ("This loss is the reciprocal of an error (1 / mse): it is smallest when the "
                 "error is huge")
        fix_code = re.sub(r"1\.?0*\s*/\s*", "", text, count=1)
    elif re.search(r"=\s*-|return\s+-", text):
        cause = "This loss is the negative of an error: it is smallest when the error is huge"
        fix_code = re.sub(r"(=|return)\s*-\s*", r"\1 ", text, count=1)
    else:
        cause = "Minimising this loss makes the error larger"
    return make(
        "NBG711",
        title="Minimising this loss pushes the predictions away from the targets",
        evidence=evidence,
        why=f"{cause}, so the optimizer lowers the loss by moving the predictions further from "
            f"{towards}; a falling loss here means a worse model.",
        fix="Minimise the cross-entropy itself, e.g. loss = nn.CrossEntropyLoss()(logits, labels), "
            "with no minus sign or reciprocal." if classes else
            "Minimise the error itself, e.g. loss = torch.mean((output - target) ** 2) or "
            "nn.MSELoss()(output, target).",
        fix_code=fix_code if fix_code and fix_code != text else None,
        line=line, confidence=1.0)
