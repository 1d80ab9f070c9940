"""A fix in the dashboard: "Try the fix", its progress while it runs, and what it showed.

The button's callback runs in the kernel, in the user's namespace, as a check of its own (the
report's `trials`, nbgrad/verify.py): the cell is put back as it was before it ran, the corrected
copy runs for the same steps, and everything is restored. While it runs, the kernel is busy (as
while any cell runs): a progress bar in the row shows the trial and its step ("trying lr=0.01 for
NBG403 (2 of 5): step 4 of 10"), updated from the kernel as each step ends, and Kernel >
Interrupt (Ctrl-C) stops it with the state restored. When it ends, the row shows the verdict,
both loss curves and both gradient-flow heat maps, in place; only then, and only if the
corrected cell ran without error, is it offered as a new cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from nbgrad.render import html, views

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.render.figures import FigureSet
    from nbgrad.report import Report


class TrialProgress:
    """The progress of trials in a row: a bar and a label the kernel updates as steps end. They
    exist only while trials run, like the check's own bar."""

    def __init__(self) -> None:
        self.bar: W.IntProgress | None = None
        self.label: W.Label | None = None
        self.widget = W.HBox([])
        self.doing = ""
        self.started = time.perf_counter()

    def start(self) -> None:
        self.started = time.perf_counter()
        self.bar = W.IntProgress(value=0, min=0, max=1, bar_style="info",
                                 layout=W.Layout(width="200px"))
        self.label = W.Label("nbgrad: getting ready")
        self.widget.children = [self.bar, self.label]

    def stage(self, doing: str) -> None:
        self.doing = doing
        if self.bar is not None and self.label is not None:
            self.bar.value = 0
            self.label.value = f"{doing} · {time.perf_counter() - self.started:.1f} s"

    def __call__(self, step: int, total: int) -> None:
        if self.bar is None or self.label is None:
            return
        try:
            self.bar.max = max(total, 1)
            self.bar.value = min(step, total)
            self.label.value = (f"{self.doing}: step {step} of {total} · "
                                f"{time.perf_counter() - self.started:.1f} s")
        except Exception:  # a progress display never stops a trial
            pass

    def done(self) -> None:
        old = list(self.widget.children)
        self.widget.children = []
        close_widgets(old)
        self.bar = self.label = None


def tried_widgets(report: Report, index: int, figures: FigureSet) -> list[W.Widget]:
    """What a tried fix showed: the verdict, the two loss ranges, both loss curves on one plot,
    both heat maps side by side, the learning rates of a sweep, the corrected cell."""
    d = report.diagnoses[index]
    v = views.verification_view(d)
    if v is None:
        return []
    out: list[W.Widget] = [W.HTML(
        f'<div class="nbgrad-tried"><b>{v.icon} {escape(v.word.capitalize())}.</b> '
        f'{escape(v.verdict)}<div class="nbgrad-note">{escape(v.losses)}</div></div>')]
    for kind in ("losses", "heatmaps"):
        data = figures.trial(index, kind)
        if data is not None:
            image = W.Image(value=data, format="png", layout=W.Layout(max_width="100%"))
            image.add_class("nbgrad-figure")
            out.append(image)
    rates = html.table(views.rates_table(d))
    if rates:
        out.append(W.HTML(f'<div class="nbgrad-report">{rates}</div>'))
    out.append(W.HTML(f"<details><summary>the corrected cell, as it ran</summary>"
                      f"<pre>{escape(v.source)}</pre></details>"))
    return out


def can_try(report: Report, d: Diagnosis) -> bool:
    """Whether the report's trials (a check that can run them) would try this fix."""
    return report.trials is not None and bool(report.trials.can_try(d))


class TrialBox:
    """The part of a diagnosis row about trying its fix; `on_tried` runs when a trial ended.
    Its widgets exist only where they are shown (a kernel keeps every widget it made)."""

    def __init__(self, report: Report, index: int, figures: FigureSet,
                 on_tried: Callable[[], None]) -> None:
        self.report = report
        self.index = index
        self.figures = figures
        self.on_tried = on_tried
        self.progress: TrialProgress | None = None
        self.message: W.HTML | None = None
        self.button: W.Button | None = None
        self.widget = W.VBox([])
        self.show()

    @property
    def diagnosis(self) -> Diagnosis:
        return self.report.diagnoses[self.index]

    def show(self) -> None:
        d = self.diagnosis
        old = list(self.widget.children)
        if d.verification is not None:
            shown: list[W.Widget] = tried_widgets(self.report, self.index, self.figures)
            if self.message is not None and self.message.value:
                shown.append(self.message)
        elif can_try(self.report, d):
            if self.button is None:
                self.button = W.Button(
                    description="Try the fix", icon="play", layout=W.Layout(width="160px"),
                    tooltip="Runs the corrected cell from the state before your cell, for the "
                            "same steps, and restores everything after")
                self.button.on_click(self.try_fix)
                self.progress = TrialProgress()
                self.message = W.HTML()
                self.row = W.HBox([self.button, self.progress.widget])
            shown = [self.row, self.message] if self.message is not None else [self.row]
        else:
            shown = []
        self.widget.children = shown
        close_widgets([w for w in old if w not in shown and w is not self.message
                and w is not getattr(self, "row", None)])

    def try_fix(self, _: Any = None) -> None:
        """The button's callback: run the trial in the kernel, then show what it found."""
        trials = self.report.trials
        if trials is None or self.button is None or self.progress is None \
                or self.message is None:
            return
        self.button.disabled = True
        self.button.description = "Trying…"
        self.message.value = ""
        self.progress.start()
        try:
            trials.try_fix(self.diagnosis, self.progress)
        except KeyboardInterrupt:
            self.message.value = ("<p>Stopped (Ctrl-C): the trial did not finish; your objects "
                                  "were restored.</p>")
            self.button.disabled = False
            self.button.description = "Try the fix"
            return
        except Exception as error:  # nbgrad's own failure: said in the row, never raised
            self.message.value = (f"<p>nbgrad could not try the fix ({escape(type(error).__name__)}"
                                  f": {escape(str(error))}); your objects were restored.</p>")
            return
        finally:
            self.progress.done()
        self.show()
        self.on_tried()


def close_widgets(widgets: list[W.Widget]) -> None:
    """Close widgets taken out of the tree (and what they own), so the kernel forgets them."""
    for widget in widgets:
        for part in [widget, *getattr(widget, "children", ())]:
            for owned in (getattr(part, "layout", None), getattr(part, "style", None)):
                if isinstance(owned, W.Widget):
                    owned.close()
            part.close()
