"""What one rank of a torchrun job measures for the cross-rank checks.

At every optimizer step: the sum and the sum of squares of each parameter right after the step,
reduced on the device and converted after the run, like the recorder's numbers. The gradients the
step used need no pass of their own: the recorder measured their norms already. DDP all-reduces
gradients into the same bytes on every rank, so with a wrapped model all of these are equal
everywhere; a model that was not wrapped, gradients left unsynced (`no_sync()`) or weights that
started apart show up as the first step where they differ. After the run: the DDP wrappers that
ran, the script's DataLoaders (their samplers), how the model is sharded.

The probe hooks each optimizer itself when it first steps: an optimizer's own post-step hooks run
before the global ones, so the recorder's stop after the last step cannot cut this one short.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import torch
from torch import nn
from torch._utils import _flatten_dense_tensors
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.hooks import RemovableHandle

from nbgrad.capture.naming import object_name
from nbgrad.capture.recorder import Recorder
from nbgrad.records import DDPModule, LoaderInfo, RankStep, Run, StepRecord

SMALL = 1 << 16  # tensors below this many elements are reduced together from one flat copy
FLAT_MIN_COUNT = 32  # below this many small tensors, one kernel per tensor costs less


@dataclass
class _RawRankStep:
    optimizer: torch.optim.Optimizer
    param_sums: torch.Tensor  # (n, 2) on the device: sum, sum of squares
    grad_sync: bool | None


@torch.no_grad()
def checksums(tensors: Sequence[torch.Tensor], lengths: dict[Any, torch.Tensor] | None = None,
              key: Any = None) -> torch.Tensor:
    """Sum and sum of squares of each tensor, as an (n, 2) float32 tensor on the first one's
    device, in a few kernels: many small tensors from one flat copy, the others one by one (their
    squares in one foreach call)."""
    if not tensors:
        return torch.zeros(0, 2)
    first = tensors[0]
    small = [i for i, t in enumerate(tensors) if t.numel() < SMALL and t.device == first.device
             and t.dtype == first.dtype and t.layout == torch.strided]
    if len(small) < FLAT_MIN_COUNT:
        small = []
    chosen = set(small)
    large = [i for i in range(len(tensors)) if i not in chosen]
    parts: list[torch.Tensor] = []
    if small:
        flat = _flatten_dense_tensors([tensors[i].detach() for i in small]).to(torch.float32)
        sizes = None if lengths is None else lengths.get(key)
        if sizes is None:
            sizes = torch.tensor([tensors[i].numel() for i in small], device=first.device)
            if lengths is not None:
                lengths[key] = sizes
        parts.append(torch.stack([torch.segment_reduce(flat, "sum", lengths=sizes),
                                  torch.segment_reduce(flat * flat, "sum", lengths=sizes)], 1))
    if large:
        values = [tensors[i].detach() for i in large]
        sums = torch.stack([v.sum(dtype=torch.float32).to(first.device) for v in values])
        norms = torch.stack([n.to(device=first.device, dtype=torch.float32)
                             for n in torch._foreach_norm(values)])
        parts.append(torch.stack([sums, norms * norms], 1))
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    if small and large:
        order = torch.empty(len(tensors), dtype=torch.long)
        order[torch.tensor(small + large)] = torch.arange(len(tensors))
        out = out.index_select(0, order.to(first.device))
    return out


def _is_ddp(module: nn.Module) -> TypeGuard[nn.parallel.DistributedDataParallel]:
    return isinstance(module, nn.parallel.DistributedDataParallel)


class RankProbe:
    """Per-step checksums of one rank; install() / remove() around the run."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.steps: list[_RawRankStep] = []
        self.initial: _RawRankStep | None = None
        self.failure: BaseException | None = None
        self._handles: list[RemovableHandle] = []
        self._hooked: set[int] = set()
        self._lengths: dict[Any, torch.Tensor] = {}
        self._ddp: list[nn.Module] = []
        self._modules_seen = 0

    def install(self) -> None:
        self._handles.append(register_optimizer_step_pre_hook(self._on_pre))

    def remove(self) -> None:
        while self._handles:
            self._handles.pop().remove()

    # -- hooks: a failure here is noted and turns the probe off, never the user's loop ------------
    def _on_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.failure is not None or id(optimizer) in self._hooked:
            return
        try:
            self._hooked.add(id(optimizer))
            self._handles.append(optimizer.register_step_post_hook(self._on_post))
            if self.initial is None:
                self.initial = _RawRankStep(optimizer, self._measure(optimizer), None)
        except Exception as error:
            self.failure = error

    def _on_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.failure is not None:
            return
        try:
            self.steps.append(_RawRankStep(optimizer, self._measure(optimizer), self._grad_sync()))
        except Exception as error:
            self.failure = error

    def _measure(self, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        return checksums(_params(optimizer), self._lengths, id(optimizer))

    def _grad_sync(self) -> bool | None:
        """False when a DDP wrapper that ran had gradient syncing off (inside `no_sync()`)."""
        modules = self.recorder.modules
        if len(modules) != self._modules_seen:
            self._modules_seen = len(modules)
            self._ddp = [m for m in modules.values() if _is_ddp(m)]
        flags = [bool(getattr(m, "require_backward_grad_sync", True)) for m in self._ddp]
        return None if not flags else all(flags)

    # -- after the run -------------------------------------------------------------------------
    def rank_steps(self, run: Run) -> tuple[RankStep | None, list[RankStep]]:
        """The checksums as records, matched to the run's steps (same order of optimizer steps);
        the gradients' sums of squares are the steps' own gradient norms, squared."""
        optimizers = {id(o): i for i, o in enumerate(self.recorder.optimizers)}
        initial = None
        if self.initial is not None:
            initial = _record(self.initial, -1, optimizers, None, run)
        steps = [_record(raw, i, optimizers, step, run)
                 for i, (raw, step) in enumerate(zip(self.steps, run.steps))]
        return initial, steps

    def ddp_modules(self, run: Run, namespace: Mapping[str, Any]) -> list[DDPModule]:
        names = dict(zip(map(id, self.recorder.params), run.params))
        found = [m for m in self.recorder.modules.values() if _is_ddp(m)]
        return [DDPModule(
            name=object_name(namespace, ddp, type(ddp).__name__),
            params=[names[id(p)] for p in ddp.module.parameters() if id(p) in names],
            find_unused_parameters=bool(getattr(ddp, "find_unused_parameters", False)),
            static_graph=bool(getattr(ddp, "static_graph", False)),
        ) for ddp in found]


SHARDING_MODULES = ("FullyShardedDataParallel", "FSDP")  # FSDP 1's wrapper, fully_shard's classes


def sharding(recorder: Recorder) -> list[str]:
    """How the model is split across ranks (empty: each rank holds all of it)."""
    found = []
    if any(type(m).__name__.startswith(SHARDING_MODULES) for m in recorder.modules.values()):
        found.append("FullyShardedDataParallel")
    if any(type(p).__name__ == "DTensor" for p in recorder.params):
        found.append("DTensor")
    return found


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _record(raw: _RawRankStep, index: int, optimizers: dict[int, int], step: StepRecord | None,
            run: Run) -> RankStep:
    values: list[list[float]] = raw.param_sums.detach().cpu().tolist()
    optimizer = optimizers.get(id(raw.optimizer), -1)
    names = ([p for group in run.optimizers[optimizer].param_groups for p in group]
             if 0 <= optimizer < len(run.optimizers) else [])
    grads: list[float | None] = []
    for name in names:
        stats = None if step is None else step.params.get(name)
        norm = None if stats is None else stats.grad_norm
        grads.append(None if norm is None else norm * norm)
    return RankStep(index=index, optimizer=optimizer, param_sum=[v[0] for v in values],
                    param_square_sum=[v[1] for v in values], grad_square_sum=grads,
                    grad_sync=raw.grad_sync)


def loaders(namespace: Mapping[str, Any], source: str) -> list[LoaderInfo]:
    """The DataLoaders among the script's names, with their samplers."""
    from torch.utils.data import DataLoader

    out = []
    for name, value in namespace.items():
        if not isinstance(value, DataLoader):
            continue
        sampler = value.sampler
        made = re.search(rf"^\s*{re.escape(name)}\s*=.*DataLoader\(", source, re.MULTILINE)
        out.append(LoaderInfo(
            name=name, sampler=type(sampler).__name__,
            dataset_size=_length(value.dataset), batches=_length(value),
            batch_size=value.batch_size,
            num_replicas=getattr(sampler, "num_replicas", None),
            sampler_rank=getattr(sampler, "rank", None),
            line=None if made is None else source.count("\n", 0, made.start()) + 1,
        ))
    return out


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:  # an IterableDataset without __len__
        return None
