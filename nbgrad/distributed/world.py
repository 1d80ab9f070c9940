"""Which process of a multi-process (torchrun) job this one is.

torchrun tells each process its place through the environment (RANK, WORLD_SIZE, LOCAL_RANK);
a process group set up by other means says it through `torch.distributed`. `nbgrad check
--nproc-per-node` adds NBGRAD_STORE, the address where it collects the ranks' records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch.distributed as dist

STORE_VARIABLE = "NBGRAD_STORE"  # host:port of the store `nbgrad check` collects the records in


@dataclass(frozen=True)
class World:
    rank: int
    world_size: int
    local_rank: int
    launched: bool  # started by `nbgrad check --nproc-per-node`, which collects and merges

    @property
    def others(self) -> list[int]:
        return [r for r in range(self.world_size) if r != self.rank]


def _int(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None


def current() -> World | None:
    """This process's place in a job of several processes; None for a process on its own."""
    launched = STORE_VARIABLE in os.environ
    rank: int | None
    size: int | None
    if dist.is_available() and dist.is_initialized():
        rank, size = dist.get_rank(), dist.get_world_size()
    else:
        rank, size = _int("RANK"), _int("WORLD_SIZE")
    if rank is None or size is None or not 0 <= rank < size or (size < 2 and not launched):
        return None
    return World(rank, size, _int("LOCAL_RANK") or 0, launched)


def backend() -> str:
    """The default process group's backend, '' when none is set up."""
    if dist.is_available() and dist.is_initialized():
        return str(dist.get_backend())
    return ""
