"""One object decides when a run ends and why (capture/stop.py): the hooks, the watchdog, the rank
watcher and the stop guard only ask it. These check its decisions directly; the end-to-end
behaviour (every `with` exits, the stop re-raised at a loop's back-edge) is in test_stop_unwinds.py
and test_every_run_ends.py."""

from __future__ import annotations

import time

import pytest

from nbgrad.capture.stop import Stop, StopRun
from nbgrad.capture.stop_guard import StopGuard


def test_an_optimizer_is_stopped_before_the_step_past_what_was_asked():
    stop = Stop(steps=3)
    stop.before_step(2)  # the third step may run
    assert stop.reason is None
    with pytest.raises(StopRun) as raised:
        stop.before_step(3)
    assert stop.reason == "steps" and stop.owns(raised.value)


def test_the_run_ends_only_when_every_optimizer_took_its_steps():
    stop = Stop(steps=2)
    stop.after_step([2, 1])  # a GAN: G has one step left
    assert not stop.requested
    with pytest.raises(StopRun):
        stop.after_step([2, 2])
    assert stop.reason == "steps"


def test_the_first_reason_wins_and_later_ones_are_refused():
    stop = Stop(steps=5, timeout_s=1.0)
    assert stop.request("rank")
    assert not stop.request("timeout")
    assert stop.reason == "rank"
    assert stop.outcome(StopRun(stop)) == "rank"


def test_no_reason_is_taken_once_the_code_is_over_or_nbgrad_failed():
    over, failed = Stop(steps=5), Stop(steps=5)
    over.close()
    failed.give_up()
    assert not over.request("timeout") and not failed.request("timeout")
    assert over.reason is None and failed.reason is None
    failed.reason = "steps"  # even a stop decided before the failure is not acted on
    assert not failed.active()


def test_escalation_forces_the_stop_only_while_the_code_runs():
    running, over = Stop(steps=1), Stop(steps=1)
    over.close()
    running.escalate()
    over.escalate()
    assert running.forced and not over.forced


def test_overdue_counts_from_the_latest_step():
    stop = Stop(steps=5, timeout_s=0.05)
    assert not stop.overdue()
    stop.last_progress = time.monotonic() - 1.0
    assert stop.overdue()
    stop.progress()
    assert not stop.overdue()
    assert not Stop(steps=5).overdue()  # no timeout: never overdue


@pytest.mark.parametrize(("error", "expected"), [
    (None, "finished"),
    (KeyboardInterrupt(), "interrupt"),
    (ValueError("bad"), "error"),
    (StopRun(object()), "finished"),  # an outer check's stop: not this run's reason
])
def test_outcome_names_how_the_code_ended_when_no_stop_was_decided(error, expected):
    assert Stop(steps=3).outcome(error) == expected


def test_outcome_of_a_stop_decided_while_the_code_returned_normally():
    stop = Stop(steps=3)
    stop.request("timeout")
    assert stop.outcome(None) == "timeout"  # the loop swallowed the stop and the cell returned


def test_a_scaler_that_skips_for_good_ends_the_run_as_skipped():
    stop = Stop(steps=3)
    with pytest.raises(StopRun):
        stop.scaler_stuck()
    assert stop.reason == "skipped"


def test_the_guard_raises_the_owner_s_stop_only_while_it_is_active():
    stop = Stop(steps=3)
    guard = StopGuard("<cell>", stop, (StopRun,))
    assert not guard.due()
    stop.request("steps")
    assert guard.due()
    assert stop.owns(guard._stop())
    stop.give_up()
    assert not guard.due()


def test_only_the_stop_owner_makes_a_stop_or_sets_its_reason():
    """Elsewhere a stop is asked for (`request`) or carried out (`make`, `check`), never decided."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "nbgrad"
    owner = package / "capture" / "stop.py"
    found = []
    for path in package.rglob("*.py"):
        if path == owner:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "StopRun":
                found.append(f"{path.name}:{node.lineno} makes a StopRun")
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in ("reason", "forced"):
                    found.append(f"{path.name}:{node.lineno} sets .{target.attr}")
    assert found == []
