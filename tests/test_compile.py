"""A model compiled with torch.compile has the same graph breaks under nbgrad as without it.

torch.compile traces global module hooks into the model's graph; anything in them that Dynamo
cannot trace (a frame walk, say) splits the graph and runs that part eagerly. Dynamo's own
counters give the number of breaks; the "eager" backend keeps the test fast on a CPU.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.capture import StopRun

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def dynamo_ready() -> None:
    """The first torch.compile in a process patches nn.Module.__init__ (Dynamo's own, kept for the
    process): done before the per-test check that nbgrad leaves torch's globals as it found them."""
    torch.compile(nn.Linear(1, 1), backend="eager")(torch.zeros(1, 1))


def _train(steps: int, check: bool) -> tuple[int, nbgrad.Report | None]:
    """Graph breaks while `steps` steps of a compiled MLP ran (under nbgrad when `check`)."""
    dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    compiled = torch.compile(model, backend="eager")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 8), torch.tensor([0, 1, 0, 1])) for _ in range(steps)]
    capture = nbgrad.capture(steps=steps, namespace={"model": model, "opt": opt}) if check else None
    if capture is not None:
        capture.__enter__()
    try:
        for x, y in batches:  # under nbgrad: both probe windows, the last step stops the loop
            opt.zero_grad()
            nn.functional.cross_entropy(compiled(x), y).backward()
            opt.step()
    except StopRun as stop:
        assert capture is not None and capture.__exit__(StopRun, stop, stop.__traceback__)
    breaks = sum(counters["graph_break"].values())
    return breaks, None if capture is None else capture.report


def test_nbgrad_adds_no_graph_break_to_a_compiled_model():
    plain, _ = _train(3, check=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        under, report = _train(3, check=True)
    assert under == plain
    assert not [w for w in caught if "_getframe" in str(w.message)]
    assert report is not None and report.analysis_error is None
    run = report.run
    assert len(run.steps) == 3 and run.forward.windows == [0, 2]
    # the modules inside the compiled wrapper are known, with their order, from its own call
    assert list(run.layers) == ["0", "2"]
    assert run.layers["0"].forward_order < run.layers["2"].forward_order
    assert all(s.params["0.weight"].update_norm for s in run.steps)
