"""A loss whose minimum lies away from the targets: it falls while the predictions get worse."""

from __future__ import annotations

import re

from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules.forward_facts import loss_trend
from nbgrad.records import LossCall, Run
from nbgrad.thresholds import AWAY_COSINE


def loss_pushes_away(run: Run) -> list[Diagnosis]:
    groups: dict[tuple[str, int | None], list[LossCall]] = {}
    for call in run.forward.losses:
        if call.descent_alignment is not None and call.input_is_model_output:
            groups.setdefault((call.function, call.line), []).append(call)
    found = []
    for (_, line), calls in groups.items():
        if not all(c.descent_alignment <= AWAY_COSINE for c in calls):  # type: ignore[operator]
            continue
        measured = [c for c in calls if c.distance is not None]
        if len(measured) >= 2 and measured[-1].distance <= measured[0].distance:  # type: ignore[operator]
            continue  # pointing away but not moving away: leave it to the loss-trend rules
        classes = calls[0].classes is not None
        towards = "the labelled class" if classes else "the targets"
        evidence = [Evidence(
            f"at step {c.step}, a gradient step moves the predictions at an angle whose cosine with "
            f"the direction towards {towards} is {c.descent_alignment:.2f} (1: straight towards, "
            f"-1: straight away)", c.descent_alignment, None, c.step) for c in calls]
        if len(measured) >= 2:
            evidence.append(Evidence(
                f"RMS distance between predictions and targets grew from {measured[0].distance:.4g} "
                f"(step {measured[0].step}) to {measured[-1].distance:.4g} (step {measured[-1].step})",
                measured[-1].distance))
        trend = loss_trend(run)
        if trend is not None:
            evidence.append(Evidence(trend.text(), trend.last))
        text = run.cell_line(line)
        if re.search(r"(^|[^\w.])1\.?0*\s*/", text):
            cause = ("This loss is the reciprocal of an error (1 / mse): it is smallest when the "
                     "error is huge")
            fix_code = re.sub(r"1\.?0*\s*/\s*", "", text, count=1)
        elif re.search(r"=\s*-|return\s+-", text):
            cause = "This loss is the negative of an error: it is smallest when the error is huge"
            fix_code = re.sub(r"(=|return)\s*-\s*", r"\1 ", text, count=1)
        else:
            cause = "Minimising this loss makes the error larger"
            fix_code = None
        found.append(Diagnosis(
            code="NBG711", slug="loss-rewards-moving-away", severity="error",
            title="Minimising this loss pushes the predictions away from the targets",
            evidence=evidence,
            why=f"{cause}, so the optimizer lowers the loss by moving the predictions further from "
                f"{towards}; a falling loss here means a worse model.",
            fix="Minimise the cross-entropy itself, e.g. loss = nn.CrossEntropyLoss()(logits, labels), "
                "with no minus sign or reciprocal." if classes else
                "Minimise the error itself, e.g. loss = torch.mean((output - target) ** 2) or "
                "nn.MSELoss()(output, target).",
            fix_code=fix_code if fix_code and fix_code != text else None,
            line=line, confidence=1.0))
    return found
