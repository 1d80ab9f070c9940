"""Turn what the recorder collected into plain records, once the cell has stopped.

Every number still on a device reaches the host in one transfer per device (`HostBatch`): first
everything is gathered, then fetched, then the records are built from host numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nbgrad import __version__
from nbgrad.capture import naming
from nbgrad.capture.loops import loop_lengths
from nbgrad.capture.recorder import Recorder
from nbgrad.capture.steps import ratio, step_record
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.records import (
    ErrorInfo,
    LayerInfo,
    LayerStats,
    OptimizerRecord,
    ParamInfo,
    Run,
    StepRecord,
    StopReason,
)


def _combine(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.sqrt(sum(v * v for v in present)) if present else None


def _layer_stats(step: StepRecord, layers: dict[str, LayerInfo],
                 params: dict[str, ParamInfo]) -> dict[str, LayerStats]:
    out = {}
    for layer in layers.values():
        stats = [step.params[p] for p in layer.params if p in step.params]
        if not stats:
            continue
        numels = [params[p].numel for p in layer.params if p in step.params]
        zero = [(s.grad_zero_fraction, n) for s, n in zip(stats, numels)
                if s.grad_zero_fraction is not None]
        param_norm = _combine([s.param_norm for s in stats]) or 0.0
        update = _combine([s.update_norm for s in stats])
        out[layer.name] = LayerStats(
            grad_norm=_combine([s.grad_norm for s in stats]),
            grad_zero_fraction=(sum(z * n for z, n in zero) / sum(n for _, n in zero))
            if sum(n for _, n in zero) else None,  # a layer of empty tensors has no fraction
            param_norm=param_norm,
            update_norm=update,
            update_to_param_ratio=ratio(update, param_norm),
        )
    return out


def build_run(recorder: Recorder, namespace: Mapping[str, Any], *, source: str, first_line: int,
              timeout_s: float, stopped_by: StopReason, elapsed_s: float,
              error: ErrorInfo | None, earlier: list[tuple[str, Any]] | None = None) -> Run:
    """Name everything, pull the numbers off the device, aggregate per layer: each watcher
    gathers its device values, one fetch brings them over, and each builds its part."""
    recorder.finish()
    modules = {**recorder.modules, **recorder.probe.modules}  # the probe also saw forwards that raised
    found = naming.resolve(namespace, recorder.params, modules.values(), recorder.optimizers,
                           earlier)
    names = [found.params[id(p)] for p in recorder.params]
    numel = [p.numel() for p in recorder.params]
    membership: dict[int, tuple[int | None, int | None]] = {}
    for oi, opt in enumerate(recorder.optimizers):
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                membership.setdefault(id(p), (oi, gi))
    params: dict[str, ParamInfo] = {}
    for p, name in zip(recorder.params, names):
        held_by, group_index = membership.get(id(p), (None, None))
        params[name] = ParamInfo(
            name=name, layer=found.owner[id(p)], shape=list(p.shape), numel=p.numel(),
            dtype=str(p.dtype).replace("torch.", ""), device=str(p.device),
            requires_grad=p.requires_grad, optimizer=held_by, param_group=group_index,
            aliases=found.aliases.get(id(p), []),
            previously=found.previously.get(id(p), ""),
        )
    layers: dict[str, LayerInfo] = {}
    for mid, name in found.modules.items():
        module = found.module_objects[mid]
        own = [found.params[id(p)] for p in nn.Module.parameters(module, recurse=False)
               if found.params.get(id(p)) in params]
        if own:
            order, line, first_step = recorder.layers.seen.get(mid, (None, None, None))
            layers.setdefault(name, LayerInfo(name=name, type=type(module).__name__, params=own,
                                              training=module.training,
                                              aliases=found.module_aliases.get(mid, []),
                                              forward_order=order, forward_line=line,
                                              first_step=first_step,
                                              container=found.containers.get(mid)))
    for name, info in params.items():  # tensors outside any module are their own layer
        if info.layer not in layers:
            layers[info.layer] = LayerInfo(name=info.layer, type="Tensor", params=[name],
                                           training=True)
    batch = HostBatch()
    for watcher in recorder.watchers:
        watcher.gather(batch)
    batch.add_all(recorder.pending_losses())
    batch.fetch()
    steps = [step_record(i, raw, names, numel, batch) for i, raw in enumerate(recorder.steps)]
    manual_steps = [step_record(i, raw, names, numel, batch)
                    for i, raw in enumerate(recorder.manual.steps)]
    for step in steps + manual_steps:
        step.layers = _layer_stats(step, layers, params)
    optimizers = []
    for oi, opt in enumerate(recorder.optimizers):
        fallback = f"{type(opt).__name__}#{oi}"
        before, after = recorder.states.records(oi, names, batch)
        optimizers.append(OptimizerRecord(
            name=naming.object_name(namespace, opt, fallback),
            type=type(opt).__name__,
            param_groups=[[found.params[id(p)] for p in g["params"]] for g in opt.param_groups],
            steps=recorder.optimizer_steps.taken.get(oi, 0),
            before=before,
            after=after,
            closure=any(s.closure for s in recorder.steps if s.optimizer == oi),
            skipped_steps=recorder.scaling.skipped_by.get(oi, 0),
        ))
    return Run(
        source=source, first_line=first_line, steps_requested=recorder.steps_requested,
        timeout_s=timeout_s, stopped_by=stopped_by, elapsed_s=elapsed_s,
        params=params, layers=layers, optimizers=optimizers, steps=steps,
        events=recorder.events.records(batch),
        losses_after_last_step=[batch.scalar(v) for v in recorder.pending_losses()],
        error=error, torch_version=torch.__version__, nbgrad_version=__version__,
        skipped_steps=recorder.scaling.records(names, batch),
        manual_steps=manual_steps,
        forward=recorder.forward.records(found, batch),
        not_measured=recorder.gaps.words(len(steps) + len(manual_steps)),
        written=_written(found),
        loops=loop_lengths(source, first_line, namespace),
    )


def _written(found: naming.Names) -> dict[str, str]:
    """Recorded name -> as written, for every module and parameter where the two differ."""
    out = {}
    for key, written in found.written.items():
        name = found.modules.get(key) or found.params.get(key)
        if name is not None and name != written:
            out[name] = written
    return out
