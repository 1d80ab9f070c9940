"""The recorder's watchers (capture/watcher.py): one hook protocol, dispatched only to the watchers
that listen, and each watcher's part of the records."""

from __future__ import annotations

from typing import Any

import pytest

from nbgrad.capture.recorder import Recorder
from nbgrad.capture.stop import Stop
from nbgrad.capture.watcher import Watcher, listeners

MANUAL_SGD_WITH_CLIP = """
torch.manual_seed(0)
w = torch.randn(4, 1, requires_grad=True)
x = torch.randn(16, 4); y = torch.randn(16, 1)
totals = []
for _ in range(10):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    totals.append(torch.nn.utils.clip_grad_norm_([w], max_norm=100.0).item())
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad = None
"""


class Forwards(Watcher):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_forward(self, module: Any, args: Any, output: Any) -> None:
        self.seen.append(module)


class Steps(Watcher):
    def on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        pass


def test_only_watchers_that_override_a_hook_listen_to_it_in_order():
    first, steps, second = Forwards(), Steps(), Forwards()
    hooks = listeners([first, steps, second], "on_forward")
    assert [h.__self__ for h in hooks] == [first, second]
    assert [h.__self__ for h in listeners([first, steps, second], "on_step")] == [steps]
    assert listeners([first, steps, second], "on_clip") == []


def test_every_watcher_of_the_recorder_listens_to_something():
    recorder = Recorder("<cell>", Stop(steps=3))
    hooks = ["on_forward", "on_backward", "after_backward", "on_zero_grad", "on_step",
             "after_step", "on_clip", "gather"]
    for watcher in recorder.watchers:
        assert any(h.__self__ is watcher for hook in hooks for h in listeners([watcher], hook)), \
            type(watcher).__name__


def test_a_clip_norm_stays_on_its_event_when_manual_updates_are_inserted_before_it(check):
    ns: dict = {}
    report = check(MANUAL_SGD_WITH_CLIP, namespace=ns, steps=3)
    events = report.run.events
    clips = [e for e in events if e.kind == "clip"]
    assert len(report.run.manual_steps) == 3
    assert any(e.kind == "manual_update" for e in events)
    assert [e.value for e in clips] == pytest.approx(ns["totals"][:len(clips)], rel=1e-6)
    assert all(e.value is None for e in events if e.kind != "clip")
