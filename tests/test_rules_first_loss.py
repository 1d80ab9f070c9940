"""NBG704 on the loop where the check is best known: makemore's character MLP, whose output layer made
by `torch.randn` starts at a loss near 27 instead of ln(27) = 3.3 (Karpathy, "Building makemore
Part 3"). Scaling that layer down is the fix; the fixed loop must not get the finding at all."""

from __future__ import annotations

import math

import nbgrad
from nbgrad import thresholds
from tests import zoo, zoo_runs

MAKEMORE = """
g = torch.Generator().manual_seed(2147483647)
words = torch.randint(1, 27, (400, 6), generator=g)
X = torch.stack([words[:, i:i + 3] for i in range(3)]).reshape(-1, 3)
Y = words[:, 3:6].T.reshape(-1)
C = torch.randn((27, 10), generator=g)
W1 = torch.randn((30, 200), generator=g) * (5 / 3) / 30 ** 0.5
b1 = torch.randn(200, generator=g) * 0.01
W2 = torch.randn((200, 27), generator=g)  # <fix>
b2 = torch.randn(27, generator=g)
parameters = [C, W1, b1, W2, b2]
for p in parameters:
    p.requires_grad = True
for i in range(200000):
    ix = torch.randint(0, X.shape[0], (32,), generator=g)
    emb = C[X[ix]]
    h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Y[ix])
    for p in parameters:
        p.grad = None
    loss.backward()
    lr = 0.1 if i < 100000 else 0.01
    for p in parameters:
        p.data += -lr * p.grad
"""
FIXED = zoo.mutate(zoo.mutate(MAKEMORE, "W2 = torch.randn((200, 27), generator=g)  # <fix>",
                              "W2 = torch.randn((200, 27), generator=g) * 0.01"),
                   "b2 = torch.randn(27, generator=g)", "b2 = torch.randn(27, generator=g) * 0")


def run(source: str) -> nbgrad.Report:
    return zoo_runs.run(source, zoo.VARIANTS[0])


def test_an_output_layer_made_by_randn_starts_far_above_ln_classes() -> None:
    report = run(MAKEMORE)
    (d,) = [d for d in report.diagnoses if d.code == "NBG704"]
    assert d.severity == "warning"
    assert d.line == zoo.line_of(MAKEMORE, zoo.FIX)  # where W2 is made, not the loss call
    first = report.run.forward.losses[0]
    assert first.step == 0 and first.classes == 27
    assert first.value is not None and first.value >= thresholds.FIRST_LOSS_OVER_CHANCE * math.log(27)
    # the evidence shows the measured loss and ln(C), and the weight that explains it
    assert d.evidence[0].value == first.value
    assert "ln(27) = 3.296" in d.evidence[0].text
    assert any(e.text.startswith("W2:") and e.value is not None and e.value > thresholds.INIT_GAIN_HIGH
               for e in d.evidence)
    assert not report.problems or [p.code for p in report.problems] == ["NBG704"]


def test_the_fixed_loop_starts_near_ln_classes_and_gets_no_such_finding() -> None:
    report = run(FIXED)
    first = report.run.forward.losses[0]
    assert first.value is not None and abs(first.value - math.log(27)) < 0.5
    assert not [d for d in report.diagnoses if d.code == "NBG704"]
    assert report.problems == []
