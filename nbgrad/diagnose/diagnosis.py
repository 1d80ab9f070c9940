"""The outcome of a rule: what is wrong, the numbers that show it, and what to change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from nbgrad.records import Trial, _build

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Evidence:
    """One measured fact behind a diagnosis, with its number when it has one."""

    text: str
    value: float | None = None
    layer: str | None = None
    step: int | None = None


EditKind = Literal["replace", "before", "after", "remove"]
TrialStatus = Literal["helped", "partly", "did not help", "raised", "stopped"]


@dataclass
class Edit:
    """One change of the cell: the statement that starts on `line` (a line as the user sees it)
    replaced by `code`, `code` put before or after that statement, or the statement removed."""

    line: int
    kind: EditKind
    code: str = ""


@dataclass
class Verification:
    """What trying a fix showed: the corrected cell's run beside the cell's own, and the verdict.

    Decided in `nbgrad.diagnose.verification` from the numbers of both runs; `resolved` means the
    diagnosis no longer fires on the corrected run, `improved` that its last loss is lower than the
    cell's own (None when neither run has a loss to compare)."""

    trial: Trial  # the corrected run (of a learning-rate sweep: the best rate's)
    original_losses: list[float | None]
    resolved: bool
    improved: bool | None
    verdict: str  # one line, as every view shows it
    remaining: list[str] = field(default_factory=list)  # the cell's problems still found
    new: list[str] = field(default_factory=list)  # problems found only on the corrected run
    candidates: list[Trial] = field(default_factory=list)  # a learning-rate sweep, as tried
    baseline: Trial | None = None  # the cell run again (its state had changed since the check)
    note: str = ""  # what the numbers cannot say (a sweep ranks rates, it picks no schedule)

    @property
    def status(self) -> TrialStatus:
        """One word for the verdict: the fix helped (problem gone, loss better), partly, did not
        help, or its corrected cell raised."""
        if not self.trial.ran:
            return "raised" if self.trial.error is not None else "stopped"
        if self.resolved and self.improved:
            return "helped"
        return "partly" if self.resolved or self.improved else "did not help"


@dataclass
class TrialSet:
    """Several fixes tried: each alone, then all together, and which trains best."""

    verdict: str
    best: str  # the label of the trial that trains best ("all fixes", "NBG301", ...)
    together: Trial | None = None  # all fixes at once, when there were several
    tried: int = 0  # trials that ran (each learning rate of a sweep counts)
    planned: int = 0
    stopped: str = ""  # why the trials stopped before the planned ones ran (Ctrl-C)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSet:
        built: TrialSet = _build(cls, data)
        return built


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
    # the changes of the cell the fix makes, every line of it (nbgrad.diagnose.fixes); empty when
    # the fix is not code, or its corrected cell raised when it was tried
    edits: list[Edit] = field(default_factory=list)
    verification: Verification | None = None  # set once the fix was tried (--verify, the button)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        built: Diagnosis = _build(cls, data)
        return built


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
