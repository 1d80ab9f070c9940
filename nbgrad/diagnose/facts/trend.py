"""Whether a loss series falls: the mean of its first third against that of its last third, so
that one noisy mini-batch cannot decide it."""

from __future__ import annotations

import statistics

from nbgrad.thresholds import STALL_MIN_DROP, TREND_MIN_STEPS

__all__ = ["stalled", "thirds"]


def thirds(values: list[float]) -> tuple[float, float]:
    """Means of the first and the last third of `values` (at least one value each)."""
    third = max(len(values) // 3, 1)
    return statistics.fmean(values[:third]), statistics.fmean(values[-third:])


def stalled(values: list[float]) -> bool:
    """A positive loss that did not fall by STALL_MIN_DROP from its first third to its last, over
    enough steps to tell (TREND_MIN_STEPS)."""
    if len(values) < TREND_MIN_STEPS:
        return False
    first, last = thirds(values)
    return first > 0 and (first - last) < STALL_MIN_DROP * first
