"""The dashboard of an exercise (`--quiz`): each problem by its severity, hints one at a time,
and a Reveal that turns the dashboard into the full report in place.

What a hint says comes from `views.hints` (what the problem is about, where to look, the
numbers), so the text and HTML reports and the dashboard give the same hints.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from nbgrad.render import views
from nbgrad.render.style import SEVERITY_ICON, SEVERITY_WORD

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.report import Report


class QuizRow:
    """One hidden problem: its severity, a button that shows the next hint, and what it showed."""

    def __init__(self, d: Diagnosis, number: int, report: Report) -> None:
        self.hints = views.hints(d, report.run)
        self.shown = 0
        self.summary = W.HTML(
            f'<span class="nbgrad-sev">{SEVERITY_ICON[d.severity]} '
            f"{escape(SEVERITY_WORD[d.severity])}</span> <b>Problem {number}: what do the "
            "symptoms say?</b>", layout=W.Layout(flex="1 1 auto"))
        self.button = W.Button(description=f"Hint 1 of {len(self.hints)}", icon="lightbulb-o",
                               tooltip="One hint at a time: what it is about, where to look, "
                                       "the numbers", layout=W.Layout(width="150px"))
        self.button.on_click(self.hint)
        self.said = W.HTML()
        self.widget = W.VBox([W.HBox([self.summary, self.button]), self.said])
        self.widget.add_class("nbgrad-row").add_class(f"nbgrad-row-{d.severity}")

    def hint(self, _: Any = None) -> None:
        if self.shown >= len(self.hints):
            return
        self.shown += 1
        self.said.value = "".join(f'<p class="nbgrad-hint">Hint {i}: {escape(h)}</p>'
                                  for i, h in enumerate(self.hints[:self.shown], 1))
        if self.shown < len(self.hints):
            self.button.description = f"Hint {self.shown + 1} of {len(self.hints)}"
        else:
            self.button.description = "no more hints"
            self.button.disabled = True


class Quiz:
    """The rows of an exercise and the Reveal button; `on_reveal` shows the full report."""

    def __init__(self, report: Report, on_reveal: Callable[[], None]) -> None:
        self.rows = [QuizRow(d, i, report) for i, d in enumerate(report.problems, 1)]
        self.reveal_button = W.Button(description="Reveal the answer", icon="eye",
                                      button_style="warning",
                                      tooltip="Show the causes, the evidence and the fixes",
                                      layout=W.Layout(width="200px"))
        self.reveal_button.on_click(lambda _: on_reveal())
        note = W.HTML(f'<p class="nbgrad-note">{escape(views.HIDDEN)}</p>')
        self.widget = W.VBox([*[r.widget for r in self.rows], W.HBox([self.reveal_button, note])])
