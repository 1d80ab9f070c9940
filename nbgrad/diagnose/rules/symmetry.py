"""Zero or constant initialisation: every unit of a layer starts the same and learns the same."""

from __future__ import annotations

from nbgrad.diagnose import facts
from nbgrad.diagnose.catalogue import make
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run
from nbgrad.thresholds import IDENTICAL_ROWS


def _same(spread: float, scale: float) -> bool:
    return spread <= IDENTICAL_ROWS * scale


def identical_units(run: Run) -> list[Diagnosis]:
    records = run.forward.symmetry
    if not records:
        return []
    first = min(r.step for r in records)
    bad = [r for r in records if r.step == first and _same(r.weight_row_spread, r.weight_scale)
           and _same(r.grad_row_spread, r.grad_scale)]
    if not bad:
        return []
    evidence = []
    for r in bad:
        what = "all 0" if r.weight_scale == 0 else f"all equal (largest entry {r.weight_scale:.3g})"
        evidence.append(Evidence(
            f"{r.param}: its {r.rows} rows are {what}, and their gradients are identical too "
            f"(largest difference {r.grad_row_spread:.3g}) at step {r.step}", r.grad_row_spread,
            r.layer, r.step))
        later = [x for x in records if x.param == r.param and x.step > r.step]
        if later and _same(later[-1].weight_row_spread, later[-1].weight_scale):
            evidence.append(Evidence(f"{r.param}: rows still identical at step {later[-1].step}",
                                     later[-1].weight_row_spread, r.layer, later[-1].step))
    layers = [r.layer for r in bad]
    units = bad[0].rows
    return [make(
        "NBG551", severity="error",
        title=f"All {units} units of '{layers[0]}' start identical and get identical gradients"
              + (f" (and {len(layers) - 1} more layer(s))" if len(layers) > 1 else ""),
        evidence=evidence,
        why="Units that start with the same weights compute the same output and receive the same "
            "gradient, so every update keeps them the same: the layer works like a single unit "
            "and can never learn different features.",
        fix="Remove the zero/constant initialisation of the weights (PyTorch's default "
            "initialisation is random), or use nn.init.kaiming_uniform_ / xavier_uniform_; zeros "
            "are fine for biases only.",
        line=facts.init_line(run, facts.CONSTANT_INIT), confidence=1.0, layers=layers)]
