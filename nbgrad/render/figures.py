"""Matplotlib figures of a run, drawn on bare `Figure` objects and handed out as PNG bytes.

pyplot is never imported: it would keep global state (current figure, open-figure list, the
inline backend's auto-display) in the user's session. Figures get their colours explicitly, never
by changing rcParams. Cells and bars that have no number (a layer without gradient) are drawn
hatched with a legend entry, never as a zero.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from html import escape

from matplotlib.collections import PatchCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from nbgrad.records import Run
from nbgrad.render import activations, views

TEXT = "#222222"
NO_GRAD_FACE, NO_GRAD_EDGE, NO_GRAD_HATCH = "#dddddd", "#888888", "///"
ZERO_FACE, ZERO_EDGE, ZERO_HATCH = "#ffffff", "#333333", "xx"
BAD_FACE, BAD_EDGE, BAD_HATCH = "#d62728", "#7f0000", "++"
LINE, ACCENT = "#1f77b4", "#ff7f0e"
CMAP = "viridis"
DPI = 100
MAX_LABELS = 50  # beyond this many layers only every k-th name is written


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white", layout="constrained")
    return fig


def _style(ax: object, title: str) -> None:
    ax.set_title(title, color=TEXT, fontsize=10, loc="left")  # type: ignore[attr-defined]
    ax.tick_params(colors=TEXT, labelsize=8)  # type: ignore[attr-defined]
    for spine in ax.spines.values():  # type: ignore[attr-defined]
        spine.set_color("#999999")


def _log_ticks(axis: object) -> None:
    """Ticks at 1, 2, 5 x 10^k written as plain numbers (0.02, 5, 1.00e+04), no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(lambda v, _: views.fmt(v)))  # type: ignore[attr-defined]
    axis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _layer_height(n: int) -> float:
    return min(max(1.2 + 0.2 * n, 2.0), 11.0)


def _label_layers(ax: object, names: list[str]) -> None:
    every = max(1, math.ceil(len(names) / MAX_LABELS))
    ticks = list(range(0, len(names), every))
    ax.set_yticks(ticks, [views.short_name(names[i], 30) for i in ticks])  # type: ignore[attr-defined]


def _legend_patch(kind: str) -> Patch:
    face, edge, hatch, label = {
        "none": (NO_GRAD_FACE, NO_GRAD_EDGE, NO_GRAD_HATCH, "no gradient (.grad is None)"),
        "zero": (ZERO_FACE, ZERO_EDGE, ZERO_HATCH, "gradient exactly 0"),
        "bad": (BAD_FACE, BAD_EDGE, BAD_HATCH, "nan / inf"),
    }[kind]
    return Patch(facecolor=face, edgecolor=edge, hatch=hatch, label=label)


def _kind(value: float | None) -> str:
    if value is None:
        return "none"
    if not math.isfinite(value):
        return "bad"
    return "zero" if value <= 0 else "ok"


def grad_heatmap(run: Run) -> Figure | None:
    """Layers x steps, gradient norm on a log colour scale; special cells hatched with a legend."""
    grid = views.grad_grid(run)
    if not grid.layers or not grid.steps:
        return None
    positives = [v for row in grid.values for v in row if _kind(v) == "ok"]
    fig = _figure(7.5, _layer_height(len(grid.layers)))
    ax = fig.add_subplot()
    special: dict[str, list[Rectangle]] = {"none": [], "zero": [], "bad": []}
    data = [[math.nan] * len(grid.steps) for _ in grid.layers]
    for li, row in enumerate(grid.values):
        for si, value in enumerate(row):
            kind = _kind(value)
            if kind == "ok":
                data[li][si] = value  # type: ignore[assignment]
            else:
                special[kind].append(Rectangle((si - 0.5, li - 0.5), 1, 1))
    if positives:
        low, high = min(positives), max(positives)
        if high <= low * 1.0001:
            low, high = low / 10, high * 10
        mesh = ax.imshow(data, aspect="auto", cmap=CMAP, norm=LogNorm(low, high),
                         interpolation="nearest")
        bar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.05)
        bar.set_label("gradient norm (log scale)", color=TEXT, fontsize=8)
        bar.ax.tick_params(colors=TEXT, labelsize=8)
        _log_ticks(bar.ax.yaxis)
    legend = []
    for kind, rects in special.items():
        if rects:
            p = _legend_patch(kind)
            ax.add_collection(PatchCollection(rects, facecolor=p.get_facecolor(),
                                              edgecolor=p.get_edgecolor(), hatch=p.get_hatch(),
                                              linewidth=0.5))
            legend.append(p)
    ax.set_xlim(-0.5, len(grid.steps) - 0.5)
    ax.set_ylim(len(grid.layers) - 0.5, -0.5)
    step_every = max(1, math.ceil(len(grid.steps) / 20))
    ax.set_xticks(range(0, len(grid.steps), step_every),
                  [str(s) for s in grid.steps[::step_every]])
    ax.set_xlabel("optimizer step", color=TEXT, fontsize=8)
    _label_layers(ax, grid.layers)
    _style(ax, "Gradient norm per layer and step")
    if legend:
        fig.legend(handles=legend, loc="outside lower center", ncols=len(legend), fontsize=8,
                   frameon=False, labelcolor=TEXT)
    return fig


def grad_bars(run: Run, step: int = -1) -> Figure | None:
    """Each layer's gradient norm at one step (log scale); layers without gradient say so."""
    if not run.steps:
        return None
    rows = views.layer_rows(run, step)
    if not rows:
        return None
    fig = _figure(7.5, _layer_height(len(rows)))
    ax = fig.add_subplot()
    finite = [r.grad_norm for r in rows if _kind(r.grad_norm) == "ok"]
    low = min(finite) / 3 if finite else 1e-3
    high = max(finite) * 3 if finite else 1.0
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    _log_ticks(ax.xaxis)
    used: set[str] = set()
    for y, row in enumerate(rows):
        kind = _kind(row.grad_norm)
        if kind == "ok":
            ax.barh(y, row.grad_norm, color=LINE, height=0.7)
            continue
        used.add(kind)
        p = _legend_patch(kind)
        ax.barh(y, high, left=low, height=0.7, color=p.get_facecolor(),
                edgecolor=p.get_edgecolor(), hatch=p.get_hatch(), linewidth=0.5)
        word = {"none": "no gradient", "zero": "0", "bad": views.fmt(row.grad_norm)}[kind]
        ax.text(low * 1.15, y, word, va="center", ha="left", fontsize=8, color=TEXT,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _label_layers(ax, [r.name for r in rows])
    ax.set_xlabel("gradient norm (log scale)", color=TEXT, fontsize=8)
    _style(ax, f"Gradient norm per layer at step {run.steps[step].index}")
    if used:
        fig.legend(handles=[_legend_patch(k) for k in ("none", "zero", "bad") if k in used],
                   loc="outside lower center", ncols=3, fontsize=8, frameon=False,
                   labelcolor=TEXT)
    return fig


def loss_curve(run: Run) -> Figure | None:
    """The loss of each step; every backward call's loss too when a step had several."""
    points = views.loss_points(run)
    finite = [(s, k, v) for s, k, v in points if v is not None and math.isfinite(v)]
    if not points:
        return None
    fig = _figure(7.5, 3.0)
    ax = fig.add_subplot()
    counts = {s: sum(1 for p in points if p[0] == s) for s, _, _ in points}
    first = [(s, v) for s, k, v in finite if k == 0]
    if first:
        ax.plot([s for s, _ in first], [v for _, v in first], marker="o", color=LINE,
                label="loss of each step (first backward)")
    several = [(s + k / counts[s], v) for s, k, v in finite if counts[s] > 1]
    if several:
        ax.scatter([x for x, _ in several], [v for _, v in several], s=14, color=ACCENT,
                   marker="s", label="every backward call", zorder=3)
    values = [v for _, _, v in finite]
    if values and min(values) > 0 and max(values) / min(values) > 50:
        ax.set_yscale("log")
        _log_ticks(ax.yaxis)
    bad = [(s, v) for s, _, v in points if v is not None and not math.isfinite(v)]
    for s, v in bad:
        ax.axvline(s, color=BAD_FACE, linestyle="--")
        ax.text(s, 0.95, f" {views.fmt(v)}", color=BAD_EDGE, transform=ax.get_xaxis_transform(),
                fontsize=8, va="top")
    ax.set_xlabel("optimizer step", color=TEXT, fontsize=8)
    ax.set_ylabel("loss", color=TEXT, fontsize=8)
    ax.grid(True, color="#dddddd", linewidth=0.5)
    _style(ax, "Loss per step")
    if first or several:
        ax.legend(fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def activation_bars(run: Run) -> Figure | None:
    """Saturated and dead fractions per layer (0..1); absent when the run recorded none."""
    rows = activations.activation_rows(run)
    if not rows:
        return None
    fig = _figure(7.5, _layer_height(len(rows)))
    ax = fig.add_subplot()
    for y, row in enumerate(rows):
        if row.saturated_fraction is not None:
            ax.barh(y - 0.2, row.saturated_fraction, height=0.4, color=ACCENT)
        if row.dead_fraction is not None:
            ax.barh(y + 0.2, row.dead_fraction, height=0.4, color=LINE, hatch="\\\\",
                    edgecolor="white")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _label_layers(ax, [r.layer for r in rows])
    ax.set_xlabel("fraction of units", color=TEXT, fontsize=8)
    _style(ax, "Activations: saturated and dead units")
    fig.legend(handles=[Patch(facecolor=ACCENT, label="saturated"),
                        Patch(facecolor=LINE, hatch="\\\\", edgecolor="white", label="dead")],
               loc="outside lower center", ncols=2, fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor=fig.get_facecolor())
    return buffer.getvalue()


FIGURES: dict[str, tuple[str, Callable[[Run], Figure | None]]] = {
    "heatmap": ("Gradient norm per layer and step", grad_heatmap),
    "loss": ("Loss per step", loss_curve),
    "activations": ("Activation saturation and dead units", activation_bars),
}


class FigureSet:
    """The PNGs of one run, each drawn once on first use and shared by the widget and the HTML."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._png: dict[str, bytes | None] = {}

    def get(self, name: str) -> bytes | None:
        if name not in self._png:
            fig = FIGURES[name][1](self.run)
            self._png[name] = None if fig is None else png(fig)
        return self._png[name]

    def bars(self, step: int) -> bytes | None:
        key = f"bars:{step % max(len(self.run.steps), 1)}"
        if key not in self._png:
            fig = grad_bars(self.run, step)
            self._png[key] = None if fig is None else png(fig)
        return self._png[key]

    def html(self) -> str:
        """`<img>` tags with the PNGs inline (base64), for the static report."""
        parts = []
        for name, (alt, _) in FIGURES.items():
            data = self.get(name)
            if data is not None:
                parts.append(img_tag(data, alt))
            if name == "heatmap" and self.run.steps:
                bars = self.bars(-1)
                if bars is not None:
                    parts.append(img_tag(bars, "Gradient norm per layer at the last step"))
        return "".join(parts)


def img_tag(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<img class="nbgrad-figure" alt="{escape(alt)}" style="max-width:100%" '
            f'src="data:image/png;base64,{encoded}">')
