"""How much memory nbgrad's own copies take, and whether it is there before they are made.

nbgrad makes three kinds of copies:
- the snapshot: the training state, copied once to host memory before the cell runs, held to the end
  (capture/snapshot.py);
- at each optimizer step, the parameters the step changes, on their own device, to measure the
  update; freed as soon as the step returned;
- in the probe's windows, temporaries of a few pieces (tensor_stats.PIECE elements) per reduction.

A copy that does not fit would make the user's cell fail half-way with an out-of-memory error that
plain training does not have. So the snapshot is refused up front (before anything ran) when it
cannot fit beside what the first steps will add, and a step whose copy would not fit beside what the
step itself needs is measured without it (update sizes left out, and the report says so).

The room is the smallest of what the machine, the container and the process may still allocate:
MemAvailable; the cgroup's limit minus its usage (v2 `memory.max`, v1 `memory.limit_in_bytes`, page
cache that can be dropped not counted as used); `ulimit -v` (RLIMIT_AS) and RLIMIT_DATA minus what
the process maps; on a CUDA device, the driver's free memory plus what PyTorch's allocator holds
unused, within `torch.cuda.set_per_process_memory_fraction`.
"""

from __future__ import annotations

import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SLACK = 64 << 20  # kept free for everything else the process allocates meanwhile
SNAPSHOT_SHARE = 0.8  # the snapshot and what the first steps add may take this share of the room
QUICK_SHARE = 0.25  # a copy below this share of the first room is not worth reading limits for
# optimizer state buffers per parameter (Adam: exp_avg and exp_avg_sq), when the state is made
STATE_BUFFERS = {"SGD": 1, "Adam": 2, "AdamW": 2, "RMSprop": 2, "Adagrad": 0, "SparseAdam": 2,
                 "Adamax": 2, "NAdam": 2, "RAdam": 2, "Adadelta": 2, "ASGD": 2, "LBFGS": 3}


@dataclass(frozen=True)
class Room:
    """Bytes that may still be allocated, and the limit that says so (for messages)."""

    free: int
    limit: str


def size(n: float) -> str:
    """Bytes in a message about room: one decimal for GB, whole MB, kB and bytes below."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{n:.0f} B"


# -- host ----------------------------------------------------------------------------------------
def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _proc_status(key: str, proc: Path) -> int | None:
    try:
        for line in (proc / "self" / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _mem_available(proc: Path) -> Room | None:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return Room(int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo")
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_rooms(proc: Path, cgroup_root: Path) -> list[Room]:
    """The room under every cgroup memory limit on this process's path, v2 and v1."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return []
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            base, limit_file, usage_file, inactive = (cgroup_root, "memory.max", "memory.current",
                                                      "inactive_file")
        elif "memory" in controllers.split(","):
            base, limit_file, usage_file, inactive = (cgroup_root / "memory", "memory.limit_in_bytes",
                                                      "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        here = base / path.lstrip("/")
        if not here.is_dir():  # a cgroup namespace: the process's cgroup is the root it sees
            here = base
        while True:  # a parent's limit applies too
            limit, usage = _read_int(here / limit_file), _read_int(here / usage_file)
            if limit is not None and usage is not None and limit < 1 << 60:
                used = usage - _stat_value(here / "memory.stat", inactive)
                rooms.append(Room(limit - used, f"the container's memory limit ({here / limit_file})"))
            if here == base or here.parent == here:
                break
            here = here.parent
    return rooms


def _rlimit_rooms(proc: Path) -> list[Room]:
    rooms = []
    for limit_id, key, words in ((resource.RLIMIT_AS, "VmSize", "the address-space limit (ulimit -v)"),
                                 (resource.RLIMIT_DATA, "VmData", "the data-segment limit (ulimit -d)")):
        soft = resource.getrlimit(limit_id)[0]
        used = _proc_status(key, proc)
        if soft != resource.RLIM_INFINITY and used is not None:
            rooms.append(Room(soft - used, words))
    return rooms


def host_room(proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> Room | None:
    """The tightest of the host's limits (None when none can be read)."""
    rooms = [r for r in [_mem_available(proc), *_cgroup_rooms(proc, cgroup_root),
                         *_rlimit_rooms(proc)] if r is not None]
    return min(rooms, key=lambda r: r.free) if rooms else None


# -- accelerators --------------------------------------------------------------------------------
def device_room(device: torch.device) -> Room | None:
    """Room on a CUDA device (None elsewhere: not known)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(device)
    unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    rooms = [Room(free + unused, f"free memory on {device}")]
    get_fraction = getattr(torch.cuda, "get_per_process_memory_fraction", None)
    fraction = get_fraction(device) if get_fraction is not None else 1.0
    if fraction < 1.0:
        rooms.append(Room(int(fraction * total) - torch.cuda.memory_allocated(device),
                          f"torch.cuda.set_per_process_memory_fraction({fraction:g})"))
    return min(rooms, key=lambda r: r.free)


def room(device: torch.device) -> Room | None:
    return host_room() if device.type == "cpu" else device_room(device)


# -- decisions -----------------------------------------------------------------------------------
def new_state_buffers(optimizer: Any) -> int:
    """Buffers per parameter the optimizer's next step creates: none once it has state; SGD
    without momentum never has any."""
    if getattr(optimizer, "state", None):
        return 0
    groups = getattr(optimizer, "param_groups", [])
    if type(optimizer).__name__ == "SGD" and not any(g.get("momentum") for g in groups):
        return 0
    return STATE_BUFFERS.get(type(optimizer).__name__, 2)


def _sized(p: torch.Tensor) -> bool:
    """A lazy module's parameter has no size until its first forward: not counted."""
    return not torch.nn.parameter.is_lazy(p)


def step_growth(modules: Iterable[torch.nn.Module], optimizers: Iterable[Any]) -> int:
    """Host bytes the first steps will add beside existing tensors: a gradient for each trainable
    CPU parameter that has none yet, and the state an optimizer without state makes."""
    grown = 0
    seen: set[int] = set()
    for module in modules:
        for p in module.parameters():
            if (id(p) not in seen and p.requires_grad and p.device.type == "cpu" and p.grad is None
                    and _sized(p)):
                seen.add(id(p))
                grown += p.numel() * p.element_size()
    for opt in optimizers:
        buffers = new_state_buffers(opt)
        for group in getattr(opt, "param_groups", []) if buffers else []:
            for p in group["params"]:
                if p.device.type == "cpu" and _sized(p):
                    grown += buffers * p.numel() * p.element_size()
    return grown


def out_of_memory(error: BaseException) -> bool:
    """Whether an allocation failed (CUDA's OutOfMemoryError, the CPU allocator's RuntimeError)."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    text = str(error)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def snapshot_refusal(needed: int, grown: int, probe: int = 0) -> str | None:
    """Why a snapshot of `needed` bytes must not be taken (None: it fits), given the bytes the first
    steps will add (`grown`) and the probe's temporaries."""
    found = host_room()
    if found is None or needed + grown + probe <= SNAPSHOT_SHARE * found.free:
        return None
    more = f", and the first steps will add about {size(grown)}" if grown else ""
    return (f"restoring your objects after the check needs a {size(needed)} copy in host memory"
            f"{more}; only {size(max(found.free, 0))} are free under {found.limit}.")


class CopyBudget:
    """Whether a step may copy the parameters it changes, decided before each step.

    Limits are read the first time per device; after that only when the copy is a noticeable share
    of that first room (reading them costs tens of microseconds; a small model's copy always fits).
    """

    def __init__(self) -> None:
        self._first: dict[torch.device, Room | None] = {}

    def refusal(self, sizes: dict[torch.device, int], new_buffers: int) -> str | None:
        """Why the copy must not be made (None: make it). The step itself needs room too: about
        the copy's size for its temporaries, and that much per state buffer it creates."""
        for device, copy in sizes.items():
            needed = copy + copy * (1 + new_buffers) + SLACK
            if device not in self._first:
                self._first[device] = room(device)
            first = self._first[device]
            if first is None or needed <= QUICK_SHARE * first.free:
                continue
            now = room(device)
            if now is not None and needed > now.free:
                return (f"{size(copy)} on {device}, with {size(max(now.free, 0))} free under "
                        f"{now.limit}")
        return None
