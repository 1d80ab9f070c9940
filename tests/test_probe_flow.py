"""The flow watcher's records (capture/probe_flow.py) on real loops: which cut the loss went
through and from which line, what backward() was called on, in-place changes, reshapes, softmax
axes, recurrent layouts and the label statistics, each checked against plain torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nbgrad
from nbgrad.capture import label_stats, tensor_stats


def check(cell: str, steps: int = 2, raises: type[BaseException] | None = None) -> nbgrad.Report:
    namespace = {"torch": torch, "nn": nn, "F": F}
    if raises is None:
        return nbgrad.gradcheck(cell, steps=steps, namespace=namespace)
    try:
        nbgrad.gradcheck(cell, steps=steps, namespace=namespace)
    except raises:
        report = nbgrad.last_report()
        assert report is not None
        return report
    raise AssertionError(f"the cell did not raise {raises.__name__}")


CUT = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 1))
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        h = x @ self.w.data
        return self.head(h.expand(-1, 4))

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(10):
    out = model(torch.randn(8, 4))
    hits = (out.argmax(1) == 0).float().mean()
    print_me = out.detach().mean().item()
    loss = out.pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_the_cut_the_loss_went_through_is_told_from_cuts_it_did_not():
    run = check(CUT).run
    forward = run.forward
    kinds = {(c.kind, c.line): c for c in forward.cuts}
    data = kinds[".data", 8]
    assert data.source.endswith("w") and data.source in run.params  # named as the parameter
    assert data.reaches_backward  # x @ self.w.data: the loss went through it
    assert not kinds["argmax()", 15].reaches_backward  # a metric beside the loss
    assert not kinds[".detach()", 16].reaches_backward  # a printout beside the loss
    (first, *_) = forward.backwards
    assert (first.line, first.made_by, first.made_line, first.has_graph) == (19, "mean", 17, True)
    assert [forward.cuts[i] for i in first.cuts] == [data]


def test_a_loss_rebuilt_from_a_number_is_a_factory_without_history():
    cell = CUT.replace("    loss = out.pow(2).mean()\n",
                       "    loss = torch.tensor(out.pow(2).mean().item(), requires_grad=True)\n")
    forward = check(cell).run.forward
    (first, *_) = forward.backwards
    assert (first.made_by, first.made_line, first.has_graph, first.cuts) == ("tensor", 17, False, [])
    assert any(forward.cuts[i].kind == ".item()" and forward.cuts[i].line == 17
               for i in first.cuts_before)


def test_inplace_changes_name_the_tensor_they_change_and_where_it_was_made():
    cell = """\
lin = nn.Linear(4, 4)
opt = torch.optim.SGD(lin.parameters(), lr=0.1)
for i in range(3):
    h = torch.relu(lin(torch.randn(8, 4)))
    h[:, 0] = 0
    loss = h.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
    (change,) = check(cell, raises=RuntimeError).run.forward.inplace
    assert (change.op, change.line, change.target_made_by, change.target_line) == (
        "__setitem__", 5, "relu", 4)


def test_reshapes_softmax_axes_and_recurrent_layouts_are_recorded_as_they_ran():
    cell = """\
gru = nn.GRU(3, 5)
head = nn.Sequential(nn.Linear(5, 2), nn.Softmax(dim=0))
opt = torch.optim.SGD([*gru.parameters(), *head.parameters()], lr=0.1)
for i in range(3):
    x = torch.randn(6, 7, 3).reshape(6, 3, 7).transpose(1, 2)
    out, _ = gru(x)
    probs = head(out[:, -1])
    loss = -probs[:, 0].log().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
    forward = check(cell).run.forward
    assert [(r.before, r.after, r.line) for r in forward.reshapes] == [([6, 7, 3], [6, 3, 7], 5)]
    (softmax,) = {(n.op, n.dim, n.layer_type, n.is_model_output, n.line) for n in forward.normalisers}
    assert softmax == ("softmax", 0, "Softmax", True, 7)
    assert {(r.type, r.batch_first, tuple(r.input_shape)) for r in forward.recurrent} == {
        ("GRU", False, (6, 7, 3))}


def test_label_statistics_equal_plain_torch():
    torch.manual_seed(0)
    scores, labels = torch.randn(64, 5), torch.randint(0, 5, (64,))
    loss, rolled, entropy, distinct, count, *pad = label_stats.measure(
        "cross_entropy", scores, labels, -100).tolist()
    frequency = torch.bincount(labels).float() / 64
    assert loss == F.cross_entropy(scores, labels).item()
    assert rolled == F.cross_entropy(scores, labels.roll(1, 0)).item()
    assert entropy == (-(frequency * frequency.log()).sum()).item()
    assert (distinct, count) == (5, 64) and all(v != v for v in pad)  # 1-D targets: no rows
    # a model that only learnt the label frequencies: the same loss with the labels moved along
    frequencies = frequency.log().expand(64, 5)
    same = label_stats.measure("nll_loss", frequencies, labels, -100).tolist()
    assert same[0] == pytest.approx(same[1], rel=1e-6) == pytest.approx(same[2], rel=1e-6)


def test_integer_levels_count_whole_number_targets_and_nothing_else():
    assert label_stats.integer_levels(torch.tensor([0.0, 2.0, 1.0, 2.0])).item() == 3
    assert label_stats.integer_levels(torch.tensor([0, 1, 1, 4])).item() == 3  # integer dtype too
    for other in ([0.0, 0.5, 2.0], [0.0, -1.0, 2.0], [0.0, 40.0], [0.0, float("nan"), 1.0]):
        assert math.isnan(label_stats.integer_levels(torch.tensor(other)).item()), other


def test_padding_statistics_of_padded_rows():
    rows = torch.tensor([[5, 3, 0, 0], [2, 0, 0, 0], [7, 7, 7, 0], [4, 4, 4, 4]])
    *_, value, share, suffix = label_stats.measure("cross_entropy", torch.randn(4, 8, 4), rows,
                                                   -100).tolist()
    assert (value, share, suffix) == (0, 6 / 16, 3 / 4)


def test_fingerprints_tell_one_hot_batches_and_reorderings_apart():
    one_hot = F.one_hot(torch.tensor([0, 1, 2, 3]), 5).float()
    other = F.one_hot(torch.tensor([1, 0, 2, 3]), 5).float()
    first = tensor_stats.fingerprint(one_hot)
    assert first[:2].tolist() == tensor_stats.fingerprint(other)[:2].tolist()  # the plain sums agree
    assert first[2] != tensor_stats.fingerprint(other)[2]
    assert torch.equal(first, tensor_stats.fingerprint(one_hot.clone()))
    # a sparse batch (graph features) has no reshape: its stored values are measured
    sparse = tensor_stats.fingerprint(one_hot.to_sparse())
    assert sparse[:2].tolist() == [4.0, 4.0]
    assert torch.equal(sparse, tensor_stats.fingerprint(one_hot.clone().to_sparse()))
    # a batch reduced piece by piece (over PIECE values) is weighted by rows: a swap still shows
    big = torch.randn(8, tensor_stats.PIECE // 4)
    swapped = big[[1, 0, *range(2, 8)]]
    assert tensor_stats.fingerprint(big)[2] != tensor_stats.fingerprint(swapped)[2]
    assert torch.equal(tensor_stats.fingerprint(big), tensor_stats.fingerprint(big.clone()))
