"""Turn what the forward probe kept on the device into plain records, once the cell has stopped."""

from __future__ import annotations

import math

import torch

from nbgrad.capture import probe_flow_records
from nbgrad.capture.forward_stats import ACTIVATION_FIELDS, SUMMARY_FIELDS
from nbgrad.capture.naming import Names
from nbgrad.capture.probe import Probe
from nbgrad.capture.probe_raw import RawLoss
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


def _host(t: torch.Tensor | None) -> list[float] | float | None:
    return None if t is None else t.detach().cpu().tolist()


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _summary(shape: list[int], dtype: str, values: list[float]) -> TensorSummary:
    data = dict(zip(SUMMARY_FIELDS, values))
    return TensorSummary(shape=shape, dtype=dtype, mean=_number(data["mean"]),
                         std=_number(data["std"]), min=_number(data["min"]),
                         max=_number(data["max"]), nonfinite=int(data["nonfinite"]))


def _labels(loss: RawLoss) -> dict[str, float | None]:
    if loss.labels is None:
        return {}
    low, high = _host(loss.labels)  # type: ignore[misc]
    return {"label_min": low if math.isfinite(low) else None,
            "label_max": high if math.isfinite(high) else None}


def build(probe: Probe, names: Names, params: list[torch.Tensor]) -> ForwardRecord:
    """Name every module and parameter the probe saw and pull its numbers off the device."""

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
        flag = _host(call.nonfinite)
        record.modules.append(ModuleCall(
            layer=layer(call.module), type=probe.types.get(call.module, ""), step=call.step,
            training=call.training, batch_size=call.batch_size,
            output_nonfinite=None if flag is None else bool(flag),
            root_layer=layer(call.root), output_requires_grad=call.requires_grad))
    for act in probe.activations:
        stats = dict(zip(ACTIVATION_FIELDS, _host(act.stats)))  # type: ignore[arg-type]
        dead = _number(stats["dead_units"])
        record.activations.append(ActivationRecord(
            layer=layer(act.module), kind=act.kind, source=act.source, after=layer(act.after),
            step=act.step, line=act.line, numel=act.numel, units=act.units,
            samples_per_unit=act.samples, saturated_fraction=_number(stats["saturated_fraction"]),
            mean_slope=_number(stats["mean_slope"]), zero_fraction=_number(stats["zero_fraction"]),
            dead_units=None if dead is None else int(dead), nonfinite=int(stats["nonfinite"]),
            feeds_loss=act.feeds_loss))
    for loss in probe.losses_seen.records:
        low, high, row = _host(loss.value_range)  # type: ignore[misc]
        record.losses.append(LossCall(
            function=loss.function, step=loss.step, line=loss.line, layer=layer(loss.module),
            input_shape=loss.input_shape, target_shape=loss.target_shape,
            target_dtype=loss.target_dtype, input_from=loss.input_from,
            input_from_line=loss.input_from_line, input_is_model_output=loss.prediction_tagged,
            input_min=_number(low), input_max=_number(high), input_row_sum_error=_number(row),
            target=_summary(loss.target_shape, loss.target_dtype, _host(loss.target)),  # type: ignore[arg-type]
            prediction=_summary(loss.input_shape, "", _host(loss.prediction)),  # type: ignore[arg-type]
            classes=loss.classes, ignore_index=loss.ignore_index,
            broadcast_shape=loss.broadcast_shape, distance=_number(_host(loss.distance)),  # type: ignore[arg-type]
            descent_alignment=_number(_host(loss.alignment)),  # type: ignore[arg-type]
            **_labels(loss), **probe_flow_records.loss_fields(probe, loss, layer)))
    for mid, step, line, shape, dtype, values in probe.inputs:
        record.inputs.append(ModelInput(layer(mid), step, line,
                                        _summary(shape, dtype, _host(values))))  # type: ignore[arg-type]
    record.nonfinite_ops = _first_nonfinite_ops(probe, layer)
    probe_flow_records.add(record, probe, names, layer)
    for index, step, rows, values in probe.symmetry:
        w_spread, w_scale, g_spread, g_scale = _host(values)  # type: ignore[misc]
        param = params[index]
        record.symmetry.append(WeightSymmetry(
            param=names.params.get(id(param), "?"), layer=names.owner.get(id(param), "?"),
            step=step, rows=rows, weight_row_spread=w_spread, weight_scale=w_scale,
            grad_row_spread=g_spread, grad_scale=g_scale))
    return record


def _first_nonfinite_ops(probe: Probe, layer: object) -> list[NonFiniteOp]:
    """Per window, the first operation whose output held NaN or Inf (one host transfer)."""
    if not probe.op_flags:
        return []
    flags = torch.stack([f[4].to(probe.op_flags[0][4].device) for f in probe.op_flags]).cpu().tolist()
    found: list[NonFiniteOp] = []
    steps_done: set[int] = set()
    for (op, module, step, line, _), bad in zip(probe.op_flags, flags):
        if bad and step not in steps_done:
            steps_done.add(step)
            found.append(NonFiniteOp(op=op, layer=layer(module), step=step, line=line))  # type: ignore[operator]
    return found
