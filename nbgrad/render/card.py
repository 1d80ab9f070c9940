"""The before/after card: one large-font view for a projector, symptom → cause → fix → result,
with both loss curves on one plot and the first layer's gradient before and after.

It lays out a `Comparison` (decided in nbgrad.diagnose.comparison) and decides nothing: the
words and numbers are the reports' own. Shown as HTML in a notebook and as text elsewhere.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nbgrad.diagnose.comparison import Comparison
from nbgrad.render.figures import LINE, TEXT, _log_ticks, _plain_text, img_tag, loss_limits, png

BEFORE_COLOR = "#7f7f7f"  # grey, dashed: what was; blue, solid: what is (not red/green alone)
RESULT_ICON = {True: "✔", False: "✘"}

CARD_CSS = (
    "<style>.nbgrad-card{font-family:var(--jp-ui-font-family,sans-serif);font-size:22px;"
    "line-height:1.35;max-width:1100px;padding:12px 18px;border:2px solid rgba(128,128,128,.5);"
    "border-radius:8px;color:var(--jp-ui-font-color0,#111)}"
    ".nbgrad-card .stage{display:grid;grid-template-columns:150px 1fr;gap:6px 16px;"
    "margin:4px 0}"
    ".nbgrad-card .label{font-weight:700;text-transform:uppercase;font-size:16px;"
    "letter-spacing:.05em;color:var(--jp-ui-font-color2,#555);padding-top:5px}"
    ".nbgrad-card .arrow{color:var(--jp-ui-font-color2,#777);margin-left:60px;font-size:20px}"
    ".nbgrad-card pre{font-size:18px;margin:4px 0;padding:4px 8px;"
    "background:rgba(128,128,128,.12)}"
    ".nbgrad-card img{max-width:100%;background:#fff;border-radius:4px;margin-top:8px}"
    ".nbgrad-card .good{font-weight:700}.nbgrad-card .bad{font-weight:700}</style>"
)


def _known(values: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def figure(c: Comparison) -> Figure | None:
    """Both loss curves on one plot; the first layer's gradient norm per step, before and after."""
    if not _known(c.before_losses) and not _known(c.after_losses):
        return None
    panels = 2 if _known(c.before_grad) or _known(c.after_grad) else 1
    fig = Figure(figsize=(11, 3.6), dpi=100, facecolor="white")
    axes = [fig.add_axes((0.07 + i * 0.5, 0.17, 0.4 if panels == 2 else 0.88, 0.7))
            for i in range(panels)]
    series = [(c.before_label, BEFORE_COLOR, "--"), (c.after_label, LINE, "-")]
    for (label, colour, style), values in zip(series, (c.before_losses, c.after_losses)):
        known = _known(values)
        if known:
            axes[0].plot([i for i, _ in known], [v for _, v in known], style, color=colour,
                         linewidth=2.5, marker="o", markersize=4, label=label)
    losses = [v for _, v in _known(c.before_losses) + _known(c.after_losses)]
    axes[0].set_ylim(*loss_limits(losses))
    axes[0].set_title("Loss per step", fontsize=15, loc="left", color=TEXT)
    if panels == 2:
        ax = axes[1]
        every = [v for _, v in _known(c.before_grad) + _known(c.after_grad) if v > 0]
        for (label, colour, style), values in zip(series, (c.before_grad, c.after_grad)):
            known = [(i, v) for i, v in _known(values) if v > 0]
            if known:
                ax.plot([i for i, _ in known], [v for _, v in known], style, color=colour,
                        linewidth=2.5, marker="o", markersize=4, label=label)
        if every:
            ax.set_yscale("log")
            low, high = min(every) / 1.5, max(every) * 1.5
            ax.set_ylim(low, high)
            _log_ticks(ax.yaxis, low, high)
        ax.set_title(f"Gradient norm of {c.layer or 'the first layer'}", fontsize=15, loc="left",
                     color=TEXT)
    for ax in axes:
        ax.set_xlabel("step", fontsize=12, color=TEXT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole: no "step 0.25"
        ax.tick_params(labelsize=11, colors=TEXT)
        ax.legend(fontsize=12, frameon=False)
        for spine in ax.spines.values():
            spine.set_color("#999999")
    return fig


class Card:
    """What `nbgrad.compare()` returns: displayed as the card, `str()` is the same as text."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self._png: bytes | None = None
        self._drawn = False

    def png(self) -> bytes | None:
        """The card's figure as PNG bytes (None when neither run has a loss)."""
        if not self._drawn:
            self._drawn = True
            with _plain_text():
                fig = figure(self.comparison)
                self._png = None if fig is None else png(fig)
        return self._png

    def result_word(self) -> str:
        c = self.comparison
        return f"{RESULT_ICON[c.fixed]} {'fixed' if c.fixed else 'not fixed yet'}"

    def to_text(self) -> str:
        c = self.comparison
        lines = ["SYMPTOM  " + ("; ".join(c.symptom) or "—"), "   ↓",
                 f"CAUSE    {c.cause}", "   ↓", f"FIX      {c.fix}"]
        if c.fix_code:
            lines += [f"             {line}" for line in c.fix_code.splitlines()]
        lines += ["   ↓", f"RESULT   {self.result_word()}: {c.result}"]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        c = self.comparison
        code = f"<pre>{escape(c.fix_code)}</pre>" if c.fix_code else ""
        symptom = "<br>".join(escape(s) for s in c.symptom) or "—"
        good = c.fixed
        data = self.png()
        image = img_tag(data, "loss per step and the first layer's gradient, before and after") \
            if data is not None else ""
        arrow = '<div class="arrow">↓</div>'
        return (f'{CARD_CSS}<div class="nbgrad-card">'
                f'<div class="stage"><span class="label">Symptom</span><span>{symptom}</span></div>'
                f'{arrow}<div class="stage"><span class="label">Cause</span>'
                f"<span><b>{escape(c.cause)}</b></span></div>"
                f'{arrow}<div class="stage"><span class="label">Fix</span>'
                f"<span>{escape(c.fix)}{code}</span></div>"
                f'{arrow}<div class="stage"><span class="label">Result</span>'
                f'<span><span class="{"good" if good else "bad"}">{escape(self.result_word())}'
                f"</span>: {escape(c.result)}</span></div>{image}</div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def __str__(self) -> str:
        return self.to_text()
