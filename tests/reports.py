"""Reports for the rendering tests, built from real runs (nbgrad.gradcheck on tiny models).

Diagnoses are hand-made `Diagnosis` entries added to a real run's report, so the renderers are
tested on every severity and on a code fix whatever the rules currently find.
"""

from __future__ import annotations

import functools

import nbgrad
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.records import Run
from nbgrad.report import Report

EVIL = "<img src=x onerror=alert(1)>"

# A model whose layer names need escaping, with a layer that never gets a gradient; the loop
# accumulates two backward calls per step (so loss points per backward call exist).
SOURCE = f"""\
torch.manual_seed(0)
model = nn.ModuleDict({{"body": nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8)),
                       "unused": nn.Linear(8, 8), {EVIL!r}: nn.Linear(8, 1)}})
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
x = torch.randn(32, 6)
y = torch.randn(32, 1)
for i in range(1000):
    optimizer.zero_grad()
    for half in (x[:16], x[16:]):
        loss = ((model[{EVIL!r}](model["body"](half)) - y[:16]) ** 2).mean()
        loss.backward()
    optimizer.step()
"""
BACKWARD_LINE = 11  # `loss.backward()` in SOURCE (first line is 1)


def namespace() -> dict[str, object]:
    ns: dict[str, object] = {}
    exec("import torch\nfrom torch import nn", ns)
    return ns


@functools.cache
def _run_json(steps: int) -> str:
    return nbgrad.gradcheck(SOURCE, steps=steps, namespace=namespace()).run.to_json()


def clean_report(steps: int = 4) -> Report:
    """A fresh report each call (tests may change it); the run itself is recorded once."""
    return Report(run=Run.from_json(_run_json(steps)))


def diagnoses() -> list[Diagnosis]:
    return [
        Diagnosis(code="NBG101", slug="grads-accumulate", severity="error",
                  title=f"Gradients accumulate in {EVIL}",
                  evidence=[Evidence(f"layer {EVIL}: gradient norm x2.0 per step", 2.0, EVIL)],
                  why="Each step adds to the previous gradient.", fix="Clear the gradients.",
                  fix_code="optimizer.zero_grad()", line=BACKWARD_LINE),
        Diagnosis(code="NBG201", slug="vanishing-gradients", severity="warning",
                  title="body.0 gets 100x smaller gradients than the last layer",
                  evidence=[Evidence("body.0: 0.001, last layer: 0.1", 100.0)],
                  why="Early layers barely learn.", fix="Use ReLU instead of tanh."),
        Diagnosis(code="NBG900", slug="order-ok", severity="info",
                  title="step() before zero_grad() is fine", evidence=[], why="-", fix="-"),
    ]


def problem_report(steps: int = 4) -> Report:
    return Report(run=Run.from_json(_run_json(steps)), diagnoses=diagnoses())
