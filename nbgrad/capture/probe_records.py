"""Turn what the forward probe kept on the device into plain records, once the cell has stopped.

`gather` hands every device value to the run's `HostBatch` (one transfer per device for the whole
run); `build` then reads host numbers only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nbgrad.capture import probe_details, probe_flow_records
from nbgrad.capture.forward_stats import ACTIVATION_FIELDS, SUMMARY_FIELDS
from nbgrad.capture.naming import Names
from nbgrad.capture.probe import Probe
from nbgrad.capture.probe_raw import RawLoss
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.capture.watcher import Known, Watcher
from nbgrad.records import (
    ActivationRecord,
    ForwardRecord,
    LossCall,
    ModelInput,
    ModuleCall,
    NonFiniteOp,
    TensorSummary,
    WeightSymmetry,
)
from nbgrad.thresholds import SATURATION_SLOPE


class ForwardWatcher(Watcher):
    """The probe (capture/probe.py) behind the one hook protocol: it sees a forward in detail
    while a window is open (or on every step), and ends the window at the step."""

    def __init__(self, probe: Probe, known: Known) -> None:
        self.probe = probe
        self.known = known

    def on_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.probe.window is not None or self.probe.every_step:
            self.probe.on_forward(module, args, output)

    def on_backward(self, tensors: Any) -> None:
        if self.probe.window is not None:  # where the gradient will stop, and what it runs through
            self.probe.safely(self.probe.flow.on_backward, tensors)

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.probe.on_step_pre(self.known.params)

    def gather(self, batch: HostBatch) -> None:
        gather(self.probe, batch)

    def records(self, names: Names, batch: HostBatch) -> ForwardRecord:
        return build(self.probe, names, self.known.params, batch)


def gather(probe: Probe, batch: HostBatch) -> None:
    """Every device value of the probe, into `batch`."""
    batch.add_all([c.nonfinite for c in probe.calls])
    batch.add_all([a.stats for a in probe.activations])
    for loss in probe.losses_seen.records:
        batch.add_all([loss.value_range, loss.target, loss.prediction, loss.distance,
                       loss.alignment, loss.labels, loss.log_sum, loss.label_stats, loss.levels])
    batch.add_all([i[5] for i in probe.inputs])
    batch.add_all([f[4] for f in probe.op_flags])
    batch.add_all([s[3] for s in probe.symmetry])


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _summary(shape: list[int], dtype: str, values: list[float]) -> TensorSummary:
    data = dict(zip(SUMMARY_FIELDS, values))
    return TensorSummary(shape=shape, dtype=dtype, mean=_number(data["mean"]),
                         std=_number(data["std"]), min=_number(data["min"]),
                         max=_number(data["max"]), nonfinite=int(data["nonfinite"]))


def _labels(loss: RawLoss, host: HostBatch) -> tuple[float | None, float | None]:
    """The smallest and largest class label (None: not a class loss, or every label ignored)."""
    if loss.labels is None:
        return None, None
    low, high = host.get(loss.labels)
    return (low if math.isfinite(low) else None), (high if math.isfinite(high) else None)


def build(probe: Probe, names: Names, params: list[torch.Tensor], host: HostBatch) -> ForwardRecord:
    """Name every module and parameter the probe saw, with its numbers from `host` (fetched)."""

    def scalar(t: torch.Tensor | None) -> float | None:
        return _number(host.scalar(t))

    def layer(mid: int | str | None) -> str:
        if mid is None or mid == "":
            return ""
        if isinstance(mid, str):
            return mid
        return names.modules.get(mid) or probe.types.get(mid, "?")

    record = ForwardRecord(windows=list(probe.windows), every_step=probe.every_step,
                           order=[layer(m) for m in probe.order])
    record.error = None if probe.failure is None else f"{type(probe.failure).__name__}: {probe.failure}"
    for call in probe.calls:
        flag = host.scalar(call.nonfinite)
        record.modules.append(ModuleCall(
            layer=layer(call.module), type=probe.types.get(call.module, ""), step=call.step,
            training=call.training, batch_size=call.batch_size,
            output_nonfinite=None if flag is None else bool(flag),
            root_layer=layer(call.root), output_requires_grad=call.requires_grad))
    for act in probe.activations:
        values = host.get(act.stats) or []
        stats = dict(zip(ACTIVATION_FIELDS, values))
        dead = _number(stats["dead_units"])
        shares = values[len(ACTIVATION_FIELDS):] or None
        activation = ActivationRecord(
            layer=layer(act.module), kind=act.kind, source=act.source, after=layer(act.after),
            step=act.step, line=act.line, numel=act.numel, units=act.units,
            samples_per_unit=act.samples, mean_slope=_number(stats["mean_slope"]),
            zero_fraction=_number(stats["zero_fraction"]),
            dead_units=None if dead is None else int(dead), nonfinite=int(stats["nonfinite"]),
            feeds_loss=act.feeds_loss, slope_shares=shares)
        # the raw `slope_shares` are what a rule should judge; this reading at today's threshold
        # is kept for the rules and views that still read `saturated_fraction`
        activation.saturated_fraction = activation.saturated_share(SATURATION_SLOPE)
        record.activations.append(activation)
    for loss in probe.losses_seen.records:
        low, high, row = host.get(loss.value_range)
        label_min, label_max = _labels(loss, host)
        record.losses.append(LossCall(
            function=loss.function, step=loss.step, line=loss.line, layer=layer(loss.module),
            input_shape=loss.input_shape, target_shape=loss.target_shape,
            target_dtype=loss.target_dtype, input_from=loss.input_from,
            input_from_line=loss.input_from_line, input_is_model_output=loss.prediction_tagged,
            input_min=_number(low), input_max=_number(high), input_row_sum_error=_number(row),
            target=_summary(loss.target_shape, loss.target_dtype, host.get(loss.target)),
            prediction=_summary(loss.input_shape, "", host.get(loss.prediction)),
            classes=loss.classes, ignore_index=loss.ignore_index,
            broadcast_shape=loss.broadcast_shape, distance=scalar(loss.distance),
            descent_alignment=scalar(loss.alignment),
            label_min=label_min, label_max=label_max,
            **probe_flow_records.loss_fields(probe, loss, layer, host)))
    for mid, step, line, shape, dtype, summary in probe.inputs:
        record.inputs.append(ModelInput(layer(mid), step, line,
                                        _summary(shape, dtype, host.get(summary))))
    record.nonfinite_ops = _first_nonfinite_ops(probe, layer, host)
    probe_flow_records.add(record, probe, names, layer)
    probe_details.build(probe, record, layer)
    for index, step, rows, spreads in probe.symmetry:
        w_spread, w_scale, g_spread, g_scale = host.get(spreads)
        param = params[index]
        record.symmetry.append(WeightSymmetry(
            param=names.params.get(id(param), "?"), layer=names.owner.get(id(param), "?"),
            step=step, rows=rows, weight_row_spread=w_spread, weight_scale=w_scale,
            grad_row_spread=g_spread, grad_scale=g_scale))
    return record


def _first_nonfinite_ops(probe: Probe, layer: Callable[[int | str | None], str],
                         host: HostBatch) -> list[NonFiniteOp]:
    """Per window, the first operation whose output held NaN or Inf."""
    found: list[NonFiniteOp] = []
    steps_done: set[int] = set()
    for op, module, step, line, flag in probe.op_flags:
        if host.scalar(flag) and step not in steps_done:
            steps_done.add(step)
            found.append(NonFiniteOp(op=op, layer=layer(module), step=step, line=line))
    return found
