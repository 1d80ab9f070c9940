"""For a lab: reveal an exercise's answer, compare a report before and after a fix, and count
what a class's saved reports found.

These read reports and only format them (the decisions are the reports' own), so they work on
reports loaded from JSON as well as on the last check of this session.
"""

from __future__ import annotations

from nbgrad import api
from nbgrad.errors import NbgradUsageError, usage_message
from nbgrad.report import Report


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
