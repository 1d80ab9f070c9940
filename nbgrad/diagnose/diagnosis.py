"""The outcome of a rule: what is wrong, the numbers that show it, and what to change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Evidence:
    """One measured fact behind a diagnosis, with its number when it has one."""

    text: str
    value: float | None = None
    layer: str | None = None
    step: int | None = None


@dataclass
class Diagnosis:
    code: str  # stable, e.g. "NBG101"
    slug: str  # stable, e.g. "grads-accumulate"
    severity: Severity
    title: str  # one line a student understands
    evidence: list[Evidence]
    why: str  # why this stops (or slows) training
    fix: str  # the change to make, as words
    fix_code: str | None = None  # the change as code, when it is a line of the cell
    line: int | None = None  # the cell line where the fix belongs
    confidence: float = 1.0
    layers: list[str] = field(default_factory=list)
    # codes of diagnoses that, when they fire too, explain this one (a NaN after a divergence is
    # the learning rate's doing): it is then folded into that one as extra evidence
    consequence_of: list[str] = field(default_factory=list)
    # codes of diagnoses this one explains (the same link, declared by the cause's rule)
    explains: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        data = dict(data)
        data["evidence"] = [Evidence(**e) for e in data.get("evidence", [])]
        return cls(**data)


def fold_consequences(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    """One cause, one diagnosis: a finding explained by another finding becomes its evidence."""
    kept = list(diagnoses)
    changed = True
    while changed:
        changed = False
        codes = {d.code: d for d in kept}
        for d in kept:
            cause = next((codes[c] for c in d.consequence_of if c in codes and codes[c] is not d),
                         None) or next((c for c in kept if c is not d and d.code in c.explains),
                                       None)
            if cause is None:
                continue
            first = d.title[:1] if d.title[1:2].isupper() else d.title[:1].lower()  # NaN stays
            cause.evidence.append(Evidence(f"and so: {first}{d.title[1:]}"))
            if SEVERITY_ORDER[d.severity] < SEVERITY_ORDER[cause.severity]:
                cause.severity = d.severity  # what follows from it is as serious as the cause
            cause.evidence.extend(d.evidence)
            cause.layers = sorted({*cause.layers, *d.layers})
            kept.remove(d)
            changed = True
            break
    return kept


def ordered(diagnoses: list[Diagnosis]) -> list[Diagnosis]:
    """Most severe first, then most certain."""
    return sorted(diagnoses, key=lambda d: (SEVERITY_ORDER[d.severity], -d.confidence, d.code))
