"""The progress bar shown while a run records: "step k of N" and the seconds elapsed.

Slow models take seconds per step, so the cell must show that it is alive. The bar is displayed
with a display id and replaced by an empty output when the run ends, so that the dashboard (the
cell's result) is what remains. Without a widget frontend (terminal IPython, scripts) there is no
bar at all: the text report at the end is the output.

The bar is a courtesy: a failure in it (a widget that cannot be shown, a matplotlib setting such as
`text.usetex` without LaTeX breaking the warm-up drawing) never stops the cell from running. The
report's own figures say for themselves what failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from nbgrad.render.bundle import has_widget_frontend


class ProgressBar:
    """A progress callback `(steps_done, steps_requested)` drawn as a widget; `stage(text)` names
    what runs now when a check runs more than once (the fixes' trials: "trying fix 2 of 3")."""

    def __init__(self, total: int) -> None:
        import ipywidgets as W
        from IPython.display import display

        self.bar = W.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info",
                                 layout=W.Layout(width="240px"))
        self.label = W.Label("nbgrad: getting ready")
        self.widget = W.HBox([self.bar, self.label])
        self.handle: Any = display(self.widget, display_id=True)
        # load the dashboard's modules, matplotlib and its fonts before the first step, not
        # between the last step and the dashboard (about a second, once per kernel)
        try:
            import nbgrad.render.widget  # noqa: F401
            from nbgrad.render.figures import warm_up

            warm_up()
        except Exception:  # only a head start: the dashboard draws (or fails) on its own
            pass
        self.started = time.perf_counter()
        self.doing = ""
        self.label.value = f"nbgrad: waiting for the first optimizer step (0 of {total})"

    def __call__(self, step: int, total: int) -> None:
        try:
            self.bar.max = max(total, 1)
            self.bar.value = min(step, total)
            elapsed = time.perf_counter() - self.started
            doing = f"{self.doing}: " if self.doing else ""
            self.label.value = f"nbgrad: {doing}step {step} of {total} · {elapsed:.1f} s"
        except Exception:  # a progress display must never stop the user's loop
            pass

    def stage(self, doing: str) -> None:
        """A new run starts (a fix's trial): its name leads the label, the bar starts at 0."""
        try:
            self.doing = doing
            self.bar.value = 0
            elapsed = time.perf_counter() - self.started
            self.label.value = f"nbgrad: {doing} · {elapsed:.1f} s"
        except Exception:
            pass

    def close(self) -> None:
        """Make way for the dashboard: replace the bar's output by nothing, free its widgets."""
        with suppress(Exception):
            if self.handle is not None:
                self.handle.update({"text/plain": ""}, raw=True)
        with suppress(Exception):
            from nbgrad.render.widget import close_tree

            close_tree(self.widget)


@contextmanager
def progress_bar(total: int) -> Iterator[ProgressBar | None]:
    """A ProgressBar where a widget frontend exists and the bar can be shown, else None; closed
    however the run ends."""
    bar = None
    with suppress(Exception):  # no bar is better than no run
        bar = ProgressBar(total) if has_widget_frontend() else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()
