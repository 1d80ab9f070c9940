"""Turn what the recorder collected into plain records, once the cell has stopped."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

import nbgrad
from nbgrad.capture import naming, probe_records
from nbgrad.capture.recorder import RawOptimizerState, RawStep, Recorder, optimizer_state
from nbgrad.records import (
    ErrorInfo,
    LayerInfo,
    LayerStats,
    OptimizerRecord,
    OptimizerState,
    ParamInfo,
    ParamStats,
    Run,
    StepRecord,
    StopReason,
)


def _floats(values: torch.Tensor | None) -> list[float]:
    return [] if values is None else values.detach().cpu().tolist()


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


def _step_record(index: int, raw: RawStep, names: list[str], numel: list[int]) -> StepRecord:
    grad_norm = dict(zip(raw.grad_params, _floats(raw.grad_norms)))
    nonzero = dict(zip(raw.grad_params, _floats(raw.grad_nonzero)))
    param_norm = dict(zip(raw.tracked, _floats(raw.param_norms)))
    update = dict(zip(raw.stepped, _floats(raw.update_norms)))
    params = {}
    for i in raw.tracked:
        g = grad_norm.get(i)
        zero = None if i not in nonzero else 1.0 - nonzero[i] / max(numel[i], 1)
        params[names[i]] = ParamStats(
            grad_norm=g,
            grad_zero_fraction=zero,
            param_norm=param_norm[i],
            update_norm=update.get(i),
            update_to_param_ratio=_ratio(update.get(i), param_norm[i]),
        )
    return StepRecord(
        index=index,
        optimizer=raw.optimizer,
        losses=[None if v is None else float(v.item()) for v in raw.losses],
        backward_calls=raw.backward_calls,
        lr=[_plain(v) for v in raw.lr],
        grads_before_backward=None if raw.grads_before is None else float(raw.grads_before.item()),
        grads_present_before_backward=raw.grads_present_before,
        duration_s=raw.duration_s,
        params=params,
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
            if zero else None,
            param_norm=param_norm,
            update_norm=update,
            update_to_param_ratio=_ratio(update, param_norm),
        )
    return out


def _state(raw: RawOptimizerState, names: list[str]) -> OptimizerState:
    buffers: dict[str, dict[str, float]] = {}
    for (i, buffer), value in zip(raw.keys, _floats(raw.values)):
        buffers.setdefault(names[i], {})[buffer] = value
    groups = [{k: _plain(v) for k, v in g.items()} for g in raw.groups]
    return OptimizerState(groups=groups, buffers=buffers)


def build_run(recorder: Recorder, namespace: Mapping[str, Any], *, source: str, first_line: int,
              timeout_s: float, stopped_by: StopReason, elapsed_s: float,
              error: ErrorInfo | None) -> Run:
    """Name everything, pull the numbers off the device, aggregate per layer."""
    modules = {**recorder.probe.modules, **recorder.modules}  # the probe's: forwards that raised
    found = naming.resolve(namespace, recorder.params, modules.values(), recorder.optimizers)
    names = [found.params[id(p)] for p in recorder.params]
    numel = [p.numel() for p in recorder.params]
    membership: dict[int, tuple[int, int]] = {}
    for oi, opt in enumerate(recorder.optimizers):
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                membership.setdefault(id(p), (oi, gi))
    params: dict[str, ParamInfo] = {}
    for p, name in zip(recorder.params, names):
        oi, gi = membership.get(id(p), (None, None))
        params[name] = ParamInfo(
            name=name, layer=found.owner[id(p)], shape=list(p.shape), numel=p.numel(),
            dtype=str(p.dtype).replace("torch.", ""), device=str(p.device),
            requires_grad=p.requires_grad, optimizer=oi, param_group=gi,
            aliases=found.aliases.get(id(p), []),
        )
    layers: dict[str, LayerInfo] = {}
    for mid, name in found.modules.items():
        module = found.module_objects[mid]
        own = [found.params[id(p)] for p in module.parameters(recurse=False)
               if found.params.get(id(p)) in params]
        if own:
            layers.setdefault(name, LayerInfo(name=name, type=type(module).__name__, params=own,
                                              training=module.training))
    for name, info in params.items():  # tensors outside any module are their own layer
        if info.layer not in layers:
            layers[info.layer] = LayerInfo(name=info.layer, type="Tensor", params=[name],
                                           training=True)
    steps = [_step_record(i, raw, names, numel) for i, raw in enumerate(recorder.steps)]
    for step in steps:
        step.layers = _layer_stats(step, layers, params)
    optimizers = []
    for oi, opt in enumerate(recorder.optimizers):
        fallback = f"{type(opt).__name__}#{oi}"
        after = optimizer_state(opt, {id(p): i for i, p in enumerate(recorder.params)})
        optimizers.append(OptimizerRecord(
            name=naming.object_name(namespace, opt, fallback),
            type=type(opt).__name__,
            param_groups=[[found.params[id(p)] for p in g["params"]] for g in opt.param_groups],
            steps=recorder.optimizer_steps[oi],
            before=_state(recorder.states_before[oi], names),
            after=_state(after, names),
            closure=any(s.closure for s in recorder.steps if s.optimizer == oi),
        ))
    return Run(
        source=source, first_line=first_line, steps_requested=recorder.steps_requested,
        timeout_s=timeout_s, stopped_by=stopped_by, elapsed_s=elapsed_s,
        params=params, layers=layers, optimizers=optimizers, steps=steps,
        events=list(recorder.events),
        losses_after_last_step=[None if v is None else float(v.item())
                                for v in recorder.pending_losses()],
        error=error, torch_version=torch.__version__, nbgrad_version=nbgrad.__version__,
        forward=probe_records.build(recorder.probe, found, recorder.params),
    )
