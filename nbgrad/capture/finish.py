"""Turn what the recorder collected into plain records, once the cell has stopped.

Every number still on a device reaches the host in one transfer per device (`HostBatch`): first
everything is gathered, then fetched, then the records are built from host numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

import nbgrad
from nbgrad.capture import naming, probe_records
from nbgrad.capture.loops import loop_lengths
from nbgrad.capture.manual import MANUAL
from nbgrad.capture.recorder import (
    RawOptimizerState,
    RawSkipped,
    RawStep,
    Recorder,
    optimizer_state,
)
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.records import (
    ErrorInfo,
    Event,
    LayerInfo,
    LayerStats,
    OptimizerRecord,
    OptimizerState,
    ParamInfo,
    ParamStats,
    Run,
    SkippedStep,
    StepRecord,
    StopReason,
)


def _gather(batch: HostBatch, recorder: Recorder, states: list[RawOptimizerState]) -> None:
    """Every device value the records are built from, into `batch`."""
    for raw in recorder.steps + recorder.manual_steps:
        batch.add_all([*raw.losses, raw.grad_norms, raw.grad_nonzero, raw.param_norms,
                       raw.other_norms, raw.update_norms, raw.grad_scale, raw.batch])
        for held in (raw.stale, raw.after_first):
            if held is not None:
                batch.add(held[1])
    for skipped in recorder.skipped:
        batch.add_all([*skipped.losses, skipped.grad_scale, skipped.grad_norms])
    for state in states:
        batch.add_all([*state.scalars, state.norms])  # type: ignore[list-item]
    batch.add_all([*recorder.event_values.values(), *recorder.pending_losses()])


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a hyperparameter value."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else repr(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _ratio(update: float | None, norm: float) -> float | None:
    if update is None:
        return None
    if norm == 0:
        return math.inf if update > 0 else 0.0
    return update / norm


def _combine(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.sqrt(sum(v * v for v in present)) if present else None


def _held_norm(batch: HostBatch, held: tuple[list[int], Any] | None,
               among: set[int] | None = None) -> float | None:
    """Root of the sum of squared grad norms of the params in `held` (those in `among` if given)."""
    if held is None:
        return None
    norms = dict(zip(held[0], batch.get(held[1]) or []))
    return math.sqrt(sum(v * v for i, v in norms.items() if among is None or i in among))


def _losses(batch: HostBatch, losses: list[torch.Tensor | None]) -> list[float | None]:
    return [batch.scalar(v) for v in losses]


def _step_record(index: int, raw: RawStep, names: list[str], numel: list[int],
                 batch: HostBatch) -> StepRecord:
    grad_norm = dict(zip(raw.grad_params, batch.get(raw.grad_norms) or []))
    nonzero = dict(zip(raw.grad_params, batch.get(raw.grad_nonzero) or []))
    param_norm = dict(zip(raw.stepped, batch.get(raw.param_norms) or []))
    param_norm.update(zip(raw.others, batch.get(raw.other_norms) or []))
    update = dict(zip(raw.stepped, batch.get(raw.update_norms) or []))
    params = {}
    for i in [*raw.stepped, *raw.others]:
        g = grad_norm.get(i)
        zero = None if i not in nonzero else 1.0 - nonzero[i] / max(numel[i], 1)
        params[names[i]] = ParamStats(
            grad_norm=g,
            grad_zero_fraction=zero,
            param_norm=param_norm[i],
            update_norm=update.get(i),
            update_to_param_ratio=_ratio(update.get(i), param_norm[i]),
        )
    own = not raw.closure and raw.optimizer != MANUAL
    return StepRecord(
        index=index,
        optimizer=raw.optimizer,
        losses=_losses(batch, raw.losses),
        backward_calls=raw.backward_calls,
        lr=[_plain(v) for v in raw.lr],
        grads_before_backward=_held_norm(batch, raw.stale) if raw.grads_present_before else None,
        grads_present_before_backward=raw.grads_present_before,
        duration_s=raw.duration_s,
        params=params,
        grad_scale=batch.scalar(raw.grad_scale),
        stale_grad_norm=_held_norm(batch, raw.stale, set(raw.stepped)) if own else None,
        backward_grad_norm=_held_norm(batch, raw.after_first, set(raw.stepped)) if own else None,
        batch_fingerprint=batch.get(raw.batch),
    )


def _skipped_record(raw: RawSkipped, names: list[str], batch: HostBatch) -> SkippedStep:
    norms = batch.get(raw.grad_norms) or []
    return SkippedStep(
        after_step=raw.after_step, optimizer=raw.optimizer,
        losses=_losses(batch, raw.losses),
        backward_calls=raw.backward_calls,
        grad_scale=batch.scalar(raw.grad_scale),
        nonfinite_params=[names[i] for i, n in zip(raw.grad_params, norms) if not math.isfinite(n)],
    )


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
            update_to_param_ratio=_ratio(update, param_norm),
        )
    return out


def _state(raw: RawOptimizerState, names: list[str], batch: HostBatch) -> OptimizerState:
    buffers: dict[str, dict[str, float]] = {}
    norms = iter(batch.get(raw.norms) or [])
    for (i, buffer), scalar in zip(raw.keys, raw.scalars):
        value: float | None
        if scalar is None:
            value = next(norms)
        elif isinstance(scalar, torch.Tensor):
            value = batch.scalar(scalar)
        else:
            value = scalar
        if value is not None:  # a one-value buffer is always gathered: never None here
            buffers.setdefault(names[i], {})[buffer] = value
    groups = [{k: _plain(v) for k, v in g.items()} for g in raw.groups]
    return OptimizerState(groups=groups, buffers=buffers)


def _events(recorder: Recorder, batch: HostBatch) -> list[Event]:
    values = {i: batch.scalar(v) for i, v in recorder.event_values.items()}
    return [dataclasses.replace(e, value=values[i]) if i in values else e
            for i, e in enumerate(recorder.events)]


def build_run(recorder: Recorder, namespace: Mapping[str, Any], *, source: str, first_line: int,
              timeout_s: float, stopped_by: StopReason, elapsed_s: float,
              error: ErrorInfo | None, earlier: list[tuple[str, Any]] | None = None) -> Run:
    """Name everything, pull the numbers off the device, aggregate per layer."""
    recorder.finish_manual()
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
            order, line, first_step = recorder.module_seen.get(mid, (None, None, None))
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
    index = {id(p): i for i, p in enumerate(recorder.params)}
    afters = [optimizer_state(opt, index) for opt in recorder.optimizers]
    batch = HostBatch()
    _gather(batch, recorder, [recorder.states_before[i] for i in range(len(afters))] + afters)
    probe_records.gather(recorder.probe, batch)
    batch.fetch()
    steps = [_step_record(i, raw, names, numel, batch) for i, raw in enumerate(recorder.steps)]
    manual_steps = [_step_record(i, raw, names, numel, batch)
                    for i, raw in enumerate(recorder.manual_steps)]
    for step in steps + manual_steps:
        step.layers = _layer_stats(step, layers, params)
    optimizers = []
    for oi, (opt, after) in enumerate(zip(recorder.optimizers, afters)):
        fallback = f"{type(opt).__name__}#{oi}"
        optimizers.append(OptimizerRecord(
            name=naming.object_name(namespace, opt, fallback),
            type=type(opt).__name__,
            param_groups=[[found.params[id(p)] for p in g["params"]] for g in opt.param_groups],
            steps=recorder.optimizer_steps[oi],
            before=_state(recorder.states_before[oi], names, batch),
            after=_state(after, names, batch),
            closure=any(s.closure for s in recorder.steps if s.optimizer == oi),
            skipped_steps=recorder.optimizer_skipped[oi],
        ))
    return Run(
        source=source, first_line=first_line, steps_requested=recorder.steps_requested,
        timeout_s=timeout_s, stopped_by=stopped_by, elapsed_s=elapsed_s,
        params=params, layers=layers, optimizers=optimizers, steps=steps,
        events=_events(recorder, batch),
        losses_after_last_step=_losses(batch, recorder.pending_losses()),
        error=error, torch_version=torch.__version__, nbgrad_version=nbgrad.__version__,
        skipped_steps=[_skipped_record(raw, names, batch) for raw in recorder.skipped],
        manual_steps=manual_steps,
        forward=probe_records.build(recorder.probe, found, recorder.params, batch),
        not_measured=recorder.not_measured(),
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
