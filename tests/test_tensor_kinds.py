"""Sparse gradients, sparse matrices in a forward and complex parameters, through the magic in a
real IPython shell: the run is measured, stopped after the requested steps, and nbgrad prints
nothing of its own into the user's output."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import nbgrad

NBGRAD_DIR = str(Path(nbgrad.__file__).parent)

EMBEDDING = """
torch.manual_seed(0)
emb = nn.Embedding(50, 8, sparse=True)
head = nn.Linear(8, 1)
sparse_opt = torch.optim.SparseAdam(list(emb.parameters()), lr=0.01)
dense_opt = torch.optim.Adam(head.parameters(), lr=0.01)
epochs = 0
for epoch in range(200):
    epochs += 1
    sparse_opt.zero_grad(); dense_opt.zero_grad()
    idx = torch.tensor([[1, 1, 2, 7], [3, 3, 3, 9]][epoch % 2])
    loss = head(emb(idx)).pow(2).mean()
    loss.backward()
    sparse_opt.step(); dense_opt.step()
"""

GCN = """
torch.manual_seed(0)
adj = (torch.eye(10) + torch.diag(torch.ones(9), 1)).to_sparse()
lin = nn.Linear(4, 2)
opt = torch.optim.SGD(lin.parameters(), lr=0.1)
x = torch.randn(10, 4); y = torch.randn(10, 2)
epochs = 0
for epoch in range(200):
    epochs += 1
    opt.zero_grad()
    loss = (torch.sparse.mm(adj, lin(x)) - y).pow(2).mean()
    loss.backward()
    opt.step()
"""

COMPLEX = """
torch.manual_seed(0)
w = torch.randn(4, dtype=torch.cfloat, requires_grad=True)
opt = torch.optim.Adam([w], lr=0.01)
x = torch.randn(8, 4, dtype=torch.cfloat)
epochs = 0
for epoch in range(200):
    epochs += 1
    opt.zero_grad()
    loss = (x @ w).abs().pow(2).mean()
    loss.backward()
    opt.step()
"""


def run_magic(shell, cell: str, steps: int) -> tuple[nbgrad.Report, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = shell.run_cell(f"%%gradcheck --steps {steps}\n{cell}")
    assert result.error_in_exec is None, result.error_in_exec
    report = nbgrad.last_report()
    assert report is not None
    return report, list(caught)


def own_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
            if w.filename.startswith(NBGRAD_DIR)]


def test_sparse_embedding_gradients_are_measured_and_the_run_stops(shell):
    report, caught = run_magic(shell, EMBEDDING, steps=3)
    assert report.analysis_error is None and own_warnings(caught) == []
    run = report.run
    assert shell.user_ns["epochs"] == 3 and run.stopped_by == "steps"
    assert [o.type for o in run.optimizers] == ["SparseAdam", "Adam"]
    # by hand: the same loop, the gradient of the embedding at step 0 (rows 1 twice, 2, 7)
    torch.manual_seed(0)
    emb, head = torch.nn.Embedding(50, 8, sparse=True), torch.nn.Linear(8, 1)
    head(emb(torch.tensor([1, 1, 2, 7]))).pow(2).mean().backward()
    dense = emb.weight.grad.to_dense()
    first = next(s for s in run.steps if s.optimizer == 0)
    stats = first.params["emb.weight"]
    assert stats.grad_norm == pytest.approx(dense.norm().item(), rel=1e-5)
    assert stats.grad_zero_fraction == pytest.approx(1 - (dense != 0).sum().item() / dense.numel())
    assert stats.update_norm > 0


def test_a_sparse_matrix_in_the_forward_is_probed_and_the_run_stops(shell):
    report, caught = run_magic(shell, GCN, steps=3)
    assert report.analysis_error is None and report.run.forward.error is None
    assert own_warnings(caught) == []
    assert shell.user_ns["epochs"] == 3 and len(report.run.steps) == 3
    forward = report.run.forward
    assert [(m.layer, m.step, m.output_nonfinite) for m in forward.modules] == [
        ("lin", 0, False), ("lin", 2, False)]
    x = shell.user_ns["x"]
    assert forward.inputs[0].summary.mean == pytest.approx(x.mean().item(), rel=1e-5)


def test_complex_parameters_are_measured_without_a_warning_of_nbgrads(shell):
    report, caught = run_magic(shell, COMPLEX, steps=3)
    assert report.analysis_error is None
    assert own_warnings(caught) == []
    assert not [w for w in caught if "Casting complex values" in str(w.message)]
    assert shell.user_ns["epochs"] == 3
    step = report.run.steps[0]
    assert step.params["w"].param_norm > 0 and step.params["w"].grad_norm > 0
    buffers = report.run.optimizers[0].after.buffers["w"]
    w, opt = shell.user_ns["w"], shell.user_ns["opt"]
    assert w is not None and opt is not None
    assert set(buffers) == {"step", "exp_avg", "exp_avg_sq"}
