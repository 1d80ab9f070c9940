"""Turn what the flow watcher kept (probe_flow) into plain records, once the cell has stopped."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nbgrad.capture import label_stats
from nbgrad.capture.naming import Names
from nbgrad.capture.probe import Probe
from nbgrad.capture.probe_raw import RawLoss
from nbgrad.capture.tensor_stats import HostBatch
from nbgrad.records import (
    BackwardCall,
    ForwardRecord,
    GraphCut,
    InplaceOp,
    LabelStats,
    Normaliser,
    RecurrentCall,
    Reshape,
)

Layer = Callable[[Any], str]


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _count(value: float | None) -> int | None:
    return None if value is None or not math.isfinite(value) else int(value)


def loss_fields(probe: Probe, loss: RawLoss, layer: Layer, host: HostBatch) -> dict[str, Any]:
    """The LossCall fields the flow watcher adds; device values come from `host` (fetched)."""
    module = loss.input_module
    fields: dict[str, Any] = {
        "reduction": loss.reduction,
        "input_module": layer(module) if module is not None else "",
        "input_module_type": probe.types.get(module, "") if module is not None else "",
        "input_cuts": list(loss.input_cuts),
        "input_where": "",
    }
    if loss.input_normaliser is not None:
        fields["input_where"] = probe.flow.normalisers[loss.input_normaliser].where
    if loss.log_sum is not None:
        fields["input_log_sum_error"] = _number(host.scalar(loss.log_sum))
    if loss.levels is not None:
        fields["target_levels"] = _count(host.scalar(loss.levels))
    fields["warnings"] = list(loss.warnings)
    if loss.label_stats is not None:
        data = dict(zip(label_stats.FIELDS, host.get(loss.label_stats) or []))
        fields["labels"] = LabelStats(
            loss=_number(data["loss"]), rolled_loss=_number(data["rolled_loss"]),
            entropy=_number(data["entropy"]), distinct=_count(data["distinct"]),
            count=_count(data["count"]), pad_value=_count(data["pad_value"]),
            pad_share=_number(data["pad_share"]), pad_suffix_rows=_number(data["pad_suffix_rows"]))
    return fields


def add(record: ForwardRecord, probe: Probe, names: Names, layer: Layer) -> None:
    """Fill the ForwardRecord lists of graph cuts, backward calls, in-place ops, reshapes,
    softmax/sigmoid calls and recurrent layers."""
    flow = probe.flow

    def source(origin: tuple[str, int | str] | None) -> str:
        if origin is None:
            return ""
        kind, value = origin
        if kind == "param":
            return names.params.get(value, "") if isinstance(value, int) else ""
        return layer(value) if kind == "module" else str(value)

    record.cuts = [GraphCut(kind=c.kind, op=c.op, step=c.step, line=c.line, layer=layer(c.module),
                            source=source(c.source), zero_derivative=c.zero_derivative,
                            reaches_backward=c.reaches_backward, where=c.where)
                   for c in flow.cuts]
    record.backwards = [BackwardCall(step=b.step, line=b.line, shape=b.shape,
                                     requires_grad=b.requires_grad, has_graph=b.has_graph,
                                     made_by=b.made_by, made_line=b.made_line, cuts=list(b.cuts),
                                     cuts_before=b.cuts_before) for b in flow.backwards]
    record.inplace = [InplaceOp(op=i.op, step=i.step, line=i.line, target_made_by=i.target_made_by,
                                target_line=i.target_line, layer=layer(i.module))
                      for i in flow.inplace]
    record.reshapes = [Reshape(op=r.op, step=r.step, line=r.line, before=r.before, after=r.after,
                               layer=layer(r.module), where=r.where) for r in flow.reshapes]
    record.normalisers = [Normaliser(
        op=n.op, step=n.step, line=n.line, dim=n.dim, shape=n.shape, layer=layer(n.module),
        layer_type=probe.types.get(n.module, "") if n.module is not None else "",
        is_model_output=any(t.prediction for t in n.tags), where=n.where)
        for n in flow.normalisers]
    record.recurrent = [RecurrentCall(layer=layer(r.module), type=r.type, step=r.step,
                                      batch_first=r.batch_first, input_shape=r.input_shape,
                                      line=r.line) for r in flow.recurrent]
