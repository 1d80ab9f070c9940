"""Per parameter: how far the recorded updates moved it and what its optimizer state did.

The Optimizer tab and the static report read these rows; why a parameter did not move is the
outcome's (decided once), not this module's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbgrad.numbers import fmt

if TYPE_CHECKING:
    from nbgrad.report import Report


@dataclass
class ParamMove:
    name: str
    layer: str
    optimizer: str  # "" when no optimizer holds the parameter
    group: int | None
    steps_moved: int  # recorded updates that changed it
    steps_seen: int  # recorded updates it was measured in
    path_length: float  # sum of the update norms: how far it travelled
    last_ratio: float | None  # update/param at the last update that moved it
    buffers: list[str]  # "exp_avg: absent -> 0.012 (created)"
    why_unmoved: str  # "" when it moved


def buffer_changes(before: dict[str, float], after: dict[str, float]) -> list[str]:
    out = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        mark = " (created)" if b is None and a is not None else ""
        if b is not None and a is not None and b != a and not (math.isnan(a) and math.isnan(b)):
            mark = " (changed)"
        out.append(f"{name}: {fmt(b, 'absent')} -> {fmt(a, 'absent')}{mark}")
    return out


def param_moves(report: Report) -> list[ParamMove]:
    """Every parameter, the ones that did not move first (that is where a bug usually is)."""
    run, outcome = report.run, report.outcome
    rows = []
    for name, info in run.params.items():
        stats = [u.record.params[name] for u in outcome.updates if name in u.record.params]
        updates = [s.update_norm for s in stats if s.update_norm is not None]
        ratios = [s.update_to_param_ratio for s in stats if s.update_norm is not None]
        opt = run.optimizers[info.optimizer] if info.optimizer is not None else None
        buffers = buffer_changes(opt.before.buffers.get(name, {}),
                                 opt.after.buffers.get(name, {})) if opt else []
        rows.append(ParamMove(
            name=run.written.get(name, name), layer=run.written.get(info.layer, info.layer),
            optimizer=f"{opt.type} '{opt.name}'" if opt else "",
            group=info.param_group, steps_moved=sum(1 for u in updates if u > 0),
            steps_seen=len(stats), path_length=sum(u for u in updates if math.isfinite(u)),
            last_ratio=ratios[-1] if ratios else None, buffers=buffers,
            why_unmoved=outcome.unmoved.get(name, "")))
    rows.sort(key=lambda r: r.why_unmoved == "")  # stable: model order inside each part
    return rows
