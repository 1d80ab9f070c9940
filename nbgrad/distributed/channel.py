"""Where the ranks of a job leave their records and read each other's: a key-value store.

Collectives of the process group are not used for this: a rank that failed in the middle of a
step leaves the others inside a collective, and a gather started then would pair with it and
hang. The group's rendezvous store takes plain keys, whatever the collectives are doing. In order:

- `nbgrad check --nproc-per-node` hosts a store and passes its address (NBGRAD_STORE);
- torchrun's agent hosts one for its workers (TORCHELASTIC_USE_AGENT_STORE, MASTER_ADDR/PORT);
- a process group set up otherwise has the store it rendezvoused on;
- else files in the folder NBGRAD_RANKS_DIR names (a fresh one per job; shared by the nodes, it
  works across machines too). Without any of these each rank's report stands alone.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import torch.distributed as dist

from nbgrad.distributed.world import STORE_VARIABLE

CONNECT_TIMEOUT = timedelta(seconds=30)


class Channel(Protocol):
    """Text under keys: put it, see whether it is there, take it (None: not there yet)."""

    def put(self, key: str, value: str) -> None: ...
    def has(self, key: str) -> bool: ...
    def take(self, key: str) -> str | None: ...


class StoreChannel:
    """Keys in a torch.distributed Store, under a prefix of this job."""

    def __init__(self, store: dist.Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def put(self, key: str, value: str) -> None:
        self.store.set(self.prefix + key, value)

    def has(self, key: str) -> bool:
        return bool(self.store.check([self.prefix + key]))

    def take(self, key: str) -> str | None:
        return self.store.get(self.prefix + key).decode() if self.has(key) else None


class DirChannel:
    """One file per key; written aside and renamed, so a reader never sees half a record."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / key.replace("/", "--")

    def put(self, key: str, value: str) -> None:
        path = self._path(key)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        aside.write_text(value, encoding="utf-8")
        os.replace(aside, path)

    def has(self, key: str) -> bool:
        return self._path(key).exists()

    def take(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None


def connect(address: str) -> dist.TCPStore:
    host, _, port = address.rpartition(":")
    return dist.TCPStore(host, int(port), is_master=False, timeout=CONNECT_TIMEOUT)


def open_channel(sequence: int) -> Channel | None:
    """The channel of this job for the `sequence`-th check of this process (None: none found)."""
    env = os.environ
    job = f"{env.get('TORCHELASTIC_RUN_ID', '')}.{env.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    prefix = f"nbgrad/{job}/{sequence}/"
    if STORE_VARIABLE in env:
        return StoreChannel(connect(env[STORE_VARIABLE]), f"nbgrad/{sequence}/")
    if env.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and "MASTER_PORT" in env:
        return StoreChannel(connect(f"{env.get('MASTER_ADDR', '127.0.0.1')}:{env['MASTER_PORT']}"),
                            prefix)
    default_store = getattr(dist.distributed_c10d, "_get_default_store", None)
    if dist.is_available() and dist.is_initialized() and default_store is not None:
        return StoreChannel(default_store(), prefix)
    folder = env.get("NBGRAD_RANKS_DIR")
    return None if folder is None else DirChannel(Path(folder) / prefix.replace("/", "_"))
