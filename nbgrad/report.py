"""The report of one run: the records, the diagnoses, the outcome, and every way to show them.

The outcome (verdict, updates, what did not move, the loss per optimizer) is decided here, once,
from the records and the diagnoses; the renderers only format it. It is not stored in JSON: a
report loaded from JSON decides it again from the same records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nbgrad.diagnose.diagnosis import Diagnosis, TrialSet
from nbgrad.diagnose.outcome import Outcome, decide
from nbgrad.records import Run

_DECIDED_FROM = ("run", "diagnoses", "analysis_error")


@dataclass
class Report:
    run: Run
    diagnoses: list[Diagnosis] = field(default_factory=list)
    analysis_error: str | None = None  # set when nbgrad itself failed to analyse the run
    verification: TrialSet | None = None  # several fixes tried: each alone, then all together
    # what runs a fix on demand (the dashboard's buttons); set by the check, not saved in JSON
    trials: Any = field(default=None, repr=False, compare=False)

    @property
    def outcome(self) -> Outcome:
        """What happened, decided once on first use (the check fills in what it restored before
        anyone asks) and again only when the run, the diagnoses or the analysis error change."""
        decided = self.__dict__.get("_outcome")
        if decided is None:
            decided = decide(self.run, self.diagnoses, self.analysis_error)
            self.__dict__["_outcome"] = decided
        return decided

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _DECIDED_FROM:
            self.__dict__.pop("_outcome", None)

    @property
    def verdict(self) -> str:
        return self.outcome.verdict

    @property
    def problems(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.severity in ("error", "warning")]

    def to_text(self) -> str:
        from nbgrad.render import text

        return text.render(self)

    def to_html(self, figures: bool = True) -> str:
        """The static HTML report, with the figures as embedded PNGs unless `figures=False`."""
        from nbgrad.render import html

        if not figures:
            return html.render(self)
        from nbgrad.render.figures import FigureSet

        drawn = FigureSet(self)
        return html.render(self, drawn.html(), drawn.trial_html())

    def dashboard(self) -> Any:
        """The ipywidgets dashboard of this report (what Jupyter displays)."""
        from nbgrad.render.widget import Dashboard

        return Dashboard(self).widget

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "diagnoses": [d.to_dict() for d in self.diagnoses],
                "analysis_error": self.analysis_error,
                "verification": None if self.verification is None else self.verification.to_dict()}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        verification = data.get("verification")
        return cls(run=Run.from_dict(data["run"]),
                   diagnoses=[Diagnosis.from_dict(d) for d in data["diagnoses"]],
                   analysis_error=data.get("analysis_error"),
                   verification=None if verification is None else TrialSet.from_dict(verification))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Widget view (in a Jupyter kernel), static HTML with figures, and the text report."""
        from nbgrad.render.bundle import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def __repr__(self) -> str:
        return f"<nbgrad Report: {self.verdict}>"
