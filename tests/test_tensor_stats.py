"""The batched reductions equal per-tensor torch on every path (stacked, foreach, sparse), and the
host gets their numbers in one transfer per device."""

from __future__ import annotations

import warnings

import pytest
import torch

from nbgrad.capture import tensor_stats


def mixed_tensors() -> list[torch.Tensor]:
    """Stacked groups (same small shapes), one-of-a-kind small ones, large, float64, bfloat16 and
    complex tensors, interleaved so that results must be put back in order."""
    torch.manual_seed(0)
    out = []
    for i in range(12):
        out.append(torch.randn(3, 4) * (torch.rand(3, 4) > 0.5))
        out.append(torch.randn(7) if i % 3 else torch.randn(5, dtype=torch.float64))
        out.append(torch.randn(6, dtype=torch.bfloat16) if i < 9 else torch.randn(2, 2))
    out += [torch.randn(tensor_stats.SMALL + 1), torch.randn(2, 9),
            torch.randn(4, dtype=torch.complex64), torch.zeros(3)]
    return out


def test_the_layout_stacks_same_shapes_and_sends_the_rest_through_foreach():
    tensors = mixed_tensors()
    plan = tensor_stats.layout(tensors)
    kinds = {g.kind: [] for g in plan.groups}
    for g in plan.groups:
        kinds[g.kind].append(g.positions)
    stacked = [tuple(tensors[p].shape) for ps in kinds["stack"] for p in ps]
    assert (3, 4) in stacked and (7,) in stacked and (6,) in stacked  # bfloat16 ones stacked too
    assert (2, 2) not in stacked  # three of a shape: cheaper one by one
    assert sorted(p for g in plan.groups for p in g.positions) == list(range(len(tensors)))
    singles = [(tensors[p].dtype, tuple(tensors[p].shape)) for ps in kinds["each"] for p in ps
               if tensors[p].is_floating_point() and tensors[p].numel() < tensor_stats.SMALL]
    # a small shape met STACK_MIN times or more would have been stacked
    assert all(singles.count(k) < tensor_stats.STACK_MIN for k in singles)


def test_norms_counts_and_distances_match_per_tensor_torch():
    tensors = mixed_tensors()
    norms, nonzero = tensor_stats.norms_and_nonzero(tensors)
    want = [torch.linalg.vector_norm(t.to(torch.complex128 if t.is_complex() else torch.float64)
                                     ).item() for t in tensors]
    assert norms.tolist() == pytest.approx(want, rel=5e-3)  # bfloat16 values, float32 sums
    exact = [i for i, t in enumerate(tensors) if t.dtype != torch.bfloat16]
    assert [norms.tolist()[i] for i in exact] == pytest.approx([want[i] for i in exact], rel=1e-5)
    assert nonzero.tolist() == [float((t != 0).sum()) for t in tensors]
    before, from_copy = tensor_stats.copies(tensors)
    assert from_copy.tolist() == norms.tolist()  # the copy's norms are the tensors' norms
    for i, t in enumerate(tensors):
        t.add_(float(i))
    moved = tensor_stats.distances(tensors, before)
    assert moved.tolist() == pytest.approx([i * t.numel() ** 0.5 for i, t in enumerate(tensors)],
                                           rel=1e-2)


def test_a_sparse_gradient_is_measured_from_its_values_duplicates_summed():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1, 1, 2, 7])).pow(2).sum().backward()
    grad = emb.weight.grad
    assert grad.layout == torch.sparse_coo and not grad.is_coalesced()
    dense = grad.to_dense()
    norms, nonzero = tensor_stats.norms_and_nonzero([torch.ones(2), grad])
    assert norms.tolist() == pytest.approx([2 ** 0.5, dense.norm().item()], rel=1e-6)
    assert nonzero.tolist() == [2.0, float((dense != 0).sum())]


def test_zero_dimensional_tensors_are_measured_like_any_other():
    # micrograd's neurons keep their bias as a 0-d tensor; its gradient is 0-d too
    biases = [torch.tensor(float(k - 5)) for k in range(tensor_stats.STACK_MIN + 2)]
    norms, nonzero = tensor_stats.norms_and_nonzero(biases)
    assert norms.tolist() == [abs(b.item()) for b in biases]
    assert nonzero.tolist() == [float(b.item() != 0) for b in biases]
    before, _ = tensor_stats.copies(biases)
    moved = [b + 1 for b in biases]
    assert tensor_stats.distances(moved, before).tolist() == [1.0] * len(biases)


def test_nan_and_inf_count_as_non_zero_and_a_single_copy_is_a_copy():
    flat = [torch.tensor([float("nan"), 0.0, float("-inf")]) for _ in range(5)]
    _, nonzero = tensor_stats.norms_and_nonzero(flat)
    assert set(nonzero.tolist()) == {2.0}
    one = [torch.ones(3)]
    before, _ = tensor_stats.copies(one)
    one[0].mul_(3)
    assert tensor_stats.distances(one, before).tolist() == pytest.approx([2 * 3 ** 0.5])


def test_complex_values_are_measured_by_their_modulus_without_a_casting_warning():
    z = torch.tensor([3 + 4j, 0j], dtype=torch.complex64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms, nonzero = tensor_stats.norms_and_nonzero([z, z.clone()])
        fp = tensor_stats.fingerprint(z)
        loss = tensor_stats.scalar(torch.tensor([2 - 2j]))
    assert norms.tolist() == [5.0, 5.0] and nonzero.tolist() == [1.0, 1.0]
    assert fp[:2].tolist() == [7.0, 25.0]  # real and imaginary parts: 3 + 4, 9 + 16
    # then weighted by place: (3 at feature 0, 4 at feature 1) of sample 0
    assert fp[2].item() == pytest.approx((3 * 0.5 + 4 * (0.618034 + 0.5)) * 0.5, rel=1e-5)
    assert loss.item() == pytest.approx(8 ** 0.5)


@pytest.mark.parametrize("make", [
    lambda: torch.arange(24.0).reshape(4, 6),
    lambda: torch.arange(24.0).reshape(4, 6).t(),
    lambda: torch.arange(60.0).reshape(1, 5, 12)[:, :, ::2],
    lambda: torch.tensor(3.0),
])
def test_pieces_hold_every_element_once(make):
    x = make()
    parts = list(tensor_stats.pieces(x, limit=5))
    assert all(p.numel() <= 5 for p in parts) or x.dim() == 0
    assert sorted(v for p in parts for v in p.reshape(-1).tolist()) == sorted(x.reshape(-1).tolist())
    assert all(p.data_ptr() >= x.data_ptr() for p in parts)  # views, not copies


def test_fingerprint_is_sum_and_sum_of_squares_piece_by_piece():
    torch.manual_seed(0)
    x = torch.randn(300, 7000)  # more than one piece
    for value in (x, x.t(), x.to(torch.bfloat16), torch.randint(0, 9, (64, 5))):
        want = value.double()
        got = tensor_stats.fingerprint(value).tolist()
        assert got[:2] == pytest.approx([want.sum().item(), want.square().sum().item()],
                                        rel=1e-4, abs=1e-2)
        # the weighted sum, by row chunks when pieced, equals it computed in one go
        grid = want.reshape(want.shape[0], -1)
        weight = [(torch.arange(n, dtype=torch.float64) * 0.6180339887498949) % 1 + 0.5
                  for n in grid.shape]
        assert got[2] == pytest.approx(((grid @ weight[1]) @ weight[0]).item(), rel=1e-4, abs=1e-2)


def test_host_batch_brings_everything_in_one_transfer_per_device(monkeypatch):
    vector = tensor_stats.norms(mixed_tensors())
    count = torch.tensor(7)
    flag = torch.tensor(True)
    batch = tensor_stats.HostBatch()
    batch.add_all([vector, count, flag, [1.5, 2.5], None])
    calls = []
    original = torch.Tensor.tolist

    def counting(t):
        calls.append(t.numel())
        return original(t)

    monkeypatch.setattr(torch.Tensor, "tolist", counting)
    batch.fetch()
    monkeypatch.undo()
    assert len(calls) == 1  # everything here is on the CPU: one device, one transfer
    assert batch.get(vector) == vector.tolist()
    assert (batch.scalar(count), batch.scalar(flag)) == (7.0, 1.0)
    assert batch.get([1.5, 2.5]) == [1.5, 2.5] and batch.get(None) is None
