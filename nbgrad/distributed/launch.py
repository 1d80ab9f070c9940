"""`nbgrad check --nproc-per-node N train.py`: the script on N processes under torchrun's engine.

`python -m torch.distributed.run` (what the `torchrun` command runs) starts N ranks of
nbgrad/distributed/worker.py on this machine, each running the script under a check. This
process hosts the store the ranks leave their reports in, watches it, and merges the reports once
every rank has sent one (or a note that it is stuck); so a rank that dies cannot take the report
with it. The ranks are started in a process group of their own: whatever is left of it at the end
(a rank stuck in a collective, a DataLoader worker) is ended, and no process outlives the check.

The ranks talk over the loopback interface with master address 127.0.0.1 and a free port; gloo
needs its interface named (GLOO_SOCKET_IFNAME) on machines whose host name does not resolve to a
reachable address, so it is set to loopback unless already set (NCCL's likewise).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist

import nbgrad
from nbgrad.distributed.channel import StoreChannel
from nbgrad.distributed.merge import merge
from nbgrad.distributed.rank import STOP_GRACE_S, STUCK_GRACE_S, key
from nbgrad.distributed.world import STORE_VARIABLE
from nbgrad.records import Run, StuckNote
from nbgrad.report import Report

POLL_S = 0.2
AGENT_EXIT_S = 15.0  # once every rank reported, the time torchrun's agent has to end by itself
STUCK_EXIT_S = 1.0  # once every rank reported or is stuck: nothing more will come
KILL_GRACE_S = 5.0  # after SIGTERM to what is left, before SIGKILL
SILENCE_MARGIN_S = 20.0  # beyond a rank's own timeout and stop graces: it is not coming back
LOOPBACK = "lo0" if sys.platform == "darwin" else "lo"


@dataclass
class Collected:
    """What the ranks left in the store so far."""

    world_size: int
    reports: dict[int, Report] = field(default_factory=dict)
    stuck: dict[int, StuckNote] = field(default_factory=dict)
    steps: dict[int, str | None] = field(default_factory=dict)
    pids: dict[int, int] = field(default_factory=dict)

    def read(self, channel: StoreChannel) -> bool:
        """Take what is new; True when anything was."""
        news = False
        for rank in range(self.world_size):
            if rank in self.reports:
                continue
            raw = channel.take(key(rank, "report"))
            if raw is not None:
                self.reports[rank] = Report.from_json(raw)
                news = True
                continue
            note = channel.take(key(rank, "stuck"))
            if note is not None and rank not in self.stuck:
                self.stuck[rank] = StuckNote(**json.loads(note))
                news = True
            if rank not in self.pids and (pid := channel.take(key(rank, "pid"))) is not None:
                self.pids[rank] = int(pid)
            steps = channel.take(key(rank, "steps"))
            if steps != self.steps.get(rank):
                self.steps[rank] = steps
                news = True
        return news

    def complete(self) -> bool:
        return all(r in self.reports or r in self.stuck for r in range(self.world_size))


@dataclass
class Outcome:
    report: Report
    interrupted: bool
    agent_status: int | None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(store_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env[STORE_VARIABLE] = f"127.0.0.1:{store_port}"
    env.setdefault("GLOO_SOCKET_IFNAME", LOOPBACK)
    env.setdefault("NCCL_SOCKET_IFNAME", LOOPBACK)
    root = str(Path(nbgrad.__file__).resolve().parent.parent)  # so that every rank imports this nbgrad
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, root] if root not in paths else paths)
    return env


def command(script: Path, script_args: list[str], *, nproc: int, steps: int,
            timeout: float | None, activations: bool, port: int) -> list[str]:
    worker = ["--steps", str(steps)]
    if timeout is not None:
        worker += ["--timeout", repr(timeout)]
    if activations:
        worker.append("--activations")
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
            "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1", "--master-port", str(port),
            "--max-restarts", "0", "-m", "nbgrad.distributed.worker", *worker, str(script),
            *script_args]


def run_ranks(script: Path, script_args: list[str], *, nproc: int, steps: int,
              timeout: float | None, activations: bool = False) -> Outcome:
    """Run the script on `nproc` ranks and merge their reports; every process started ends here."""
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=30))
    channel = StoreChannel(store, "nbgrad/0/")
    collected = Collected(nproc)
    patience = max(timeout or 0.0, 30.0) + STOP_GRACE_S + STUCK_GRACE_S + SILENCE_MARGIN_S
    agent = subprocess.Popen(command(script, script_args, nproc=nproc, steps=steps,
                                     timeout=timeout, activations=activations, port=free_port()),
                             env=_environment(store.port), start_new_session=True)
    interrupted = False
    started = time.monotonic()
    try:
        _supervise(agent, channel, collected, patience)
    except KeyboardInterrupt:
        interrupted = True
        _interrupt_ranks(agent, collected)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: end at once
            _supervise(agent, channel, collected, STOP_GRACE_S + STUCK_GRACE_S)
    finally:
        status = _end_group(agent)
        collected.read(channel)
    silent = ("no record: ended by nbgrad check after "
              f"{patience:g} s without news from it" if status is None or status < 0 else
              f"no record: torchrun ended with status {status} before this rank sent one")
    skeleton = Run(source=script.read_text(encoding="utf-8", errors="replace"), first_line=1,
                   steps_requested=steps, timeout_s=timeout or 0.0,
                   stopped_by="interrupt" if interrupted else "timeout" if collected.stuck
                   else "error",
                   elapsed_s=time.monotonic() - started)
    return Outcome(merge(collected.reports, nproc, collected.stuck, silent=silent,
                         skeleton=skeleton), interrupted, status)


def _supervise(agent: subprocess.Popen[bytes], channel: StoreChannel, collected: Collected,
               patience: float) -> None:
    """Until torchrun ends, every rank has reported (and torchrun had its time to end), or no
    rank has said anything for `patience` seconds."""
    quiet_since = time.monotonic()
    complete_at: float | None = None
    while agent.poll() is None:
        now = time.monotonic()
        if collected.read(channel):
            quiet_since = now
        if collected.complete():
            complete_at = complete_at or now
            if now - complete_at > (STUCK_EXIT_S if collected.stuck else AGENT_EXIT_S):
                return
        elif now - quiet_since > patience:
            return
        time.sleep(POLL_S)


def _interrupt_ranks(agent: subprocess.Popen[bytes], collected: Collected) -> None:
    """Ctrl-C reaches this process only (the ranks run in a session of their own): pass it on to
    the ranks, which stop as a Ctrl-C'd script does and report; torchrun's agent then ends
    normally. Before the ranks are known, the whole group gets it."""
    if len(collected.pids) < collected.world_size:
        _signal_group(agent, signal.SIGINT)
        return
    for pid in collected.pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)


def _signal_group(agent: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing of the group is left
        os.killpg(agent.pid, sig)


def _end_group(agent: subprocess.Popen[bytes]) -> int | None:
    """End torchrun's agent and every process of its group still alive; its exit status, None
    when it had to be ended."""
    status = agent.poll()
    if status is None:
        _signal_group(agent, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            agent.wait(KILL_GRACE_S)
    _signal_group(agent, signal.SIGKILL)  # what is left: ranks stuck in C++, orphaned workers
    agent.wait()
    return status
