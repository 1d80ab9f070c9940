"""nbgrad itself makes no host-device synchronisation while the steps run (target: <= 1 a step).

Every Python-level way to pull a tensor to the host is counted when the caller is nbgrad's code;
the numbers leave the device once, in finish(), after the loop stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import nbgrad

NBGRAD_DIR = str(Path(nbgrad.__file__).parent)
SYNCING = ["item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__"]


class SyncCounter:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self._saved: dict[str, object] = {}

    def __enter__(self) -> SyncCounter:
        for name in SYNCING:
            original = getattr(torch.Tensor, name)
            self._saved[name] = torch.Tensor.__dict__.get(name, original)

            def counting(t, *a, _orig=original, _name=name, **k):
                caller = sys._getframe(1).f_code.co_filename
                if caller.startswith(NBGRAD_DIR):
                    self.calls.append(f"{_name} from {caller}")
                return _orig(t, *a, **k)

            setattr(torch.Tensor, name, counting)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)


def test_counter_sees_a_sync_made_by_nbgrad_code():
    from nbgrad.capture import finish, tensor_stats

    with SyncCounter() as counter:
        tensor_stats.norms([torch.ones(3)]).tolist()  # called from this test: not counted
        finish._floats(torch.ones(2))  # nbgrad code pulling numbers: counted
    assert counter.calls == [f"{name} from {NBGRAD_DIR}/capture/finish.py" for name in ("cpu", "tolist")]


def test_no_host_sync_from_nbgrad_while_steps_run():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = 5
    check = nbgrad.capture(steps=steps + 1, namespace={"model": model, "opt": opt})
    check.__enter__()
    try:
        with SyncCounter() as counter:
            for _ in range(steps):
                opt.zero_grad()
                nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.tensor([0, 1, 0, 1])
                                            ).backward()
                opt.step()
    finally:
        check.__exit__(None, None, None)
    assert len(check.report.run.steps) == steps
    assert counter.calls == []
