"""Checks across the processes of a torchrun job.

- `world`: which rank this process is; `channel`: where ranks leave their records;
- `rank`: the cross-rank part of one check in one rank (checksums, lockstep stop, sharing);
- `merge`: the ranks' reports into one; `launch` / `worker`: `nbgrad check --nproc-per-node`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbgrad.distributed.world import current

if TYPE_CHECKING:
    from nbgrad.api import Check
    from nbgrad.distributed.rank import RankRun

__all__ = ["current", "rank_run"]


def rank_run(check: Check) -> RankRun | None:
    """The cross-rank part of `check` when this process is a rank of a job (None otherwise)."""
    world = current()
    if world is None:
        return None
    from nbgrad.distributed.rank import RankRun

    return RankRun(check, world)
