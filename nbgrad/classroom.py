"""For a lab: reveal an exercise's answer, compare a report before and after a fix, and count
what a class's saved reports found.

These read reports and only format them (the decisions are the reports' own), so they work on
reports loaded from JSON as well as on the last check of this session.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbgrad import api
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.report import Report

if TYPE_CHECKING:
    from nbgrad.render.card import Card
    from nbgrad.render.tally import Summary


def reveal(report: Report | None = None) -> Report:
    """Show the causes and fixes of the last check's exercise (`%%gradcheck --quiz`), in its
    dashboard if it is on screen, and return the report, whose display is the full answer."""
    chosen = report if report is not None else api.last_report()
    if chosen is None:
        raise NbgradUsageError(usage_message(
            "nbgrad.reveal() has no check to reveal: none has run in this session yet.",
            "run a cell with %%gradcheck --quiz first, then nbgrad.reveal().",
            "nbgrad.reveal()"))
    chosen.reveal()
    try:
        from nbgrad.render.widget import reveal_shown
    except ImportError:  # no ipywidgets: the returned report is the answer
        return chosen
    reveal_shown(chosen)
    return chosen


def compare(before: Report, after: Report | None = None, code: str | None = None) -> Card:
    """A before/after card for a projector: symptom → cause → fix → result, both loss curves on
    one plot, the first layer's gradient before and after.

    `compare(before, after)`: the check of the broken cell and of the fixed one; the first
    problem of `before` (or `code`) is the one followed. `compare(report)`: a report whose fix
    was tried (`--verify`, or the dashboard's "Try the fix"), the tried fix being the after."""
    from nbgrad.diagnose import comparison
    from nbgrad.render.card import Card

    if after is not None:
        return Card(comparison.between(before, after, code))
    found = comparison.tried(before, code)
    if found is None:
        raise NbgradUsageError(usage_message(
            "nbgrad.compare(report) needs a report whose fix was tried, or a second report.",
            "check the cell with --verify (or click Try the fix), or check the fixed cell too "
            "and pass both reports.", "nbgrad.compare(before, after)"))
    return Card(found)


def summary(reports: Sequence[Report | str]) -> Summary:
    """Which diagnoses a class's reports found, and how often (once per report), with one
    example line each, as text and a small chart. `reports`: Report objects or paths of reports
    saved as JSON (`nbgrad check --json`, `report.to_json()`); a glob is expanded."""
    from nbgrad.render.tally import Summary
    from nbgrad.tally import load, tally

    paths = [p for item in reports if isinstance(item, str)
             for p in (sorted(glob.glob(item)) or [item])]
    loaded, unreadable = load(paths)
    objects = [(f"report {i}", r) for i, r in enumerate(reports, 1) if isinstance(r, Report)]
    return Summary(tally([*objects, *loaded], unreadable))
