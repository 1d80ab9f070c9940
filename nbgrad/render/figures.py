"""Matplotlib figures of a run, drawn on bare `Figure` objects and handed out as PNG bytes.

pyplot is never imported: it would keep global state (current figure, open-figure list, the
inline backend's auto-display) in the user's session. Figures get their colours explicitly, never
by changing rcParams. Cells and bars that have no number (a layer without gradient) are drawn
hatched with a legend entry, never as a zero.

A figure is an extra: one that cannot be drawn is left out with the reason, never the report.
Names are drawn as plain text (a layer named `$x$` is not mathtext) and without LaTeX, whatever
`text.usetex` the user's session set.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.collections import PatchCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from nbgrad.numbers import fmt
from nbgrad.render import activations, views
from nbgrad.thresholds import LOSS_MIN_DECREASE

if TYPE_CHECKING:
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.report import Report

TEXT = "#222222"
NO_GRAD_FACE, NO_GRAD_EDGE, NO_GRAD_HATCH = "#dddddd", "#888888", "///"
ZERO_FACE, ZERO_EDGE, ZERO_HATCH = "#ffffff", "#333333", "xx"
BAD_FACE, BAD_EDGE, BAD_HATCH = "#d62728", "#7f0000", "++"
LINE, ACCENT = "#1f77b4", "#ff7f0e"
CMAP = "viridis"
DPI = 100
WIDTH = 7.5  # inches; at DPI 100 the PNG is 750 px wide
LABEL_POINTS = 9.5  # rows closer than this get every k-th name only (8 pt text)
INCH_PER_CHAR = 0.065  # an 8 pt DejaVu Sans character, for the room the layer names need


def _frame(height: float, labels: list[str] | None = None, *, colorbar: bool = False,
           legend: bool = False) -> tuple[Figure, Any, Any]:
    """A figure with one axes placed by hand (no layout engine: it costs a second draw)."""
    left = 0.25 + INCH_PER_CHAR * max((len(x) for x in labels or ["0.0000"]), default=6)
    right = 1.05 if colorbar else 0.2
    top, bottom = 0.35, 0.5 + (0.3 if legend else 0.0)
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    box = (left / WIDTH, bottom / height, (WIDTH - left - right) / WIDTH,
           (height - top - bottom) / height)
    ax = fig.add_axes(box)
    cax = fig.add_axes(((WIDTH - right + 0.1) / WIDTH, box[1], 0.15 / WIDTH, box[3])) \
        if colorbar else None
    return fig, ax, cax


def _style(ax: Any, title: str) -> None:
    ax.set_title(title, color=TEXT, fontsize=10, loc="left", parse_math=False)
    ax.tick_params(colors=TEXT, labelsize=8)
    for spine in ax.spines.values():
        spine.set_color("#999999")


def _tick_label(value: float, _: Any = None) -> str:
    if 1e-3 <= abs(value) < 1e4:
        return fmt(value)
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _log_ticks(axis: Any, low: float, high: float) -> None:
    """Log ticks written as plain short numbers (0.02, 5, 1e-5), 1-2-5 only over a short range.

    A range too narrow to hold two of those (0.0053 to 0.0195 holds only 0.01) gets about four
    evenly spaced round numbers instead, as matplotlib's own LogLocator falls back to its
    AutoLocator, so that every log axis has at least two labelled values to read a point against.
    """
    decades = math.log10(high / low) if low > 0 and high > low else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)
    if low > 0 and high > low and _ticks_within(subs, low, high) < 2:
        axis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    else:
        axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=9))
    axis.set_major_formatter(FuncFormatter(_tick_label))
    axis.set_minor_locator(NullLocator())


def _ticks_within(subs: tuple[float, ...], low: float, high: float) -> int:
    """How many of the numbers sub x 10^n lie in [low, high]."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return sum(1 for n in range(first, last + 1) for sub in subs
               if low <= sub * 10.0 ** n <= high)


def _layer_height(n: int) -> float:
    return min(max(1.3 + 0.2 * n, 2.2), 11.0)


def _layer_labels(names: list[str]) -> list[str]:
    return [views.short_name(n, 30) for n in names]


def _label_layers(ax: Any, names: list[str]) -> None:
    """Layer names as plain text beside the rows (tick objects are slow to make by the dozen)."""
    ax.set_yticks([])
    row_points = ax.get_position().height * ax.figure.get_figheight() * 72 / max(len(names), 1)
    every = max(1, math.ceil(LABEL_POINTS / row_points))
    where = ax.get_yaxis_transform()  # x in axes fractions, y in rows
    for i, label in enumerate(_layer_labels(names)):
        if i % every == 0:
            ax.text(-0.01, i, label, transform=where, ha="right", va="center", fontsize=8,
                    color=TEXT, parse_math=False)


def _step_ticks(ax: Any, steps: list[int], positions: list[float] | None = None) -> None:
    every = max(1, math.ceil(len(steps) / 10))
    where = positions if positions is not None else list(range(len(steps)))
    ax.set_xticks(where[::every], [str(s) for s in steps[::every]])
    ax.set_xlabel("optimizer step", color=TEXT, fontsize=8)


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


def _grid_cells(values: list[list[float | None]], columns: int
                ) -> tuple[list[list[float]], dict[str, list[Rectangle]]]:
    """The numbers of a layers x steps grid for imshow (NaN where special), and the special cells
    (no gradient, zero, NaN/Inf) as rectangles to hatch."""
    special: dict[str, list[Rectangle]] = {"none": [], "zero": [], "bad": []}
    data = [[math.nan] * columns for _ in values]
    for li, row in enumerate(values):
        for si, value in enumerate(row):
            kind = _kind(value)
            if value is not None and kind == "ok":
                data[li][si] = value
            else:
                special[kind].append(Rectangle((si - 0.5, li - 0.5), 1, 1))
    return data, special


def _hatch(ax: Any, special: dict[str, list[Rectangle]]) -> list[str]:
    """Draw the special cells; the kinds shown, for the legend."""
    shown = [kind for kind, rects in special.items() if rects]
    for kind in shown:
        patch = _legend_patch(kind)
        ax.add_collection(PatchCollection(special[kind], facecolor=patch.get_facecolor(),
                                          edgecolor=patch.get_edgecolor(),
                                          hatch=patch.get_hatch(), linewidth=0.5))
    return shown


LOSS_NOISE_SHARE = 0.25  # the most of a loss plot's height a change the rules call no fall fills
MARGIN = 0.05  # matplotlib's own axes.ymargin, kept when nbgrad sets the limits itself


def loss_limits(values: list[float]) -> tuple[float, float]:
    """The y-limits of a linear loss axis: the values' range, widened about its middle to at least
    LOSS_MIN_DECREASE / LOSS_NOISE_SHARE (20%) of the loss's size, so that a change the rules call
    no fall (under 5% of the loss) fills at most a quarter of the height and noise of a fraction of
    a percent looks as small as it is, not like wild oscillation (matplotlib alone would stretch
    1.065-1.095 over the whole plot). A range wider than that floor is the values' own; either way
    with matplotlib's margins. (A widened range never reaches below 0 for a loss that is never
    negative: it is widened only while the lowest value is above 80% of the highest.)"""
    low, high = min(values), max(values)
    size = max(abs(low), abs(high))
    span = max(high - low, LOSS_MIN_DECREASE / LOSS_NOISE_SHARE * size) or 1.0
    bottom = (low + high) / 2 - span / 2
    return bottom - MARGIN * span, bottom + span + MARGIN * span


def _log_range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    return (low / 10, high * 10) if high <= low * 1.0001 else (low, high)


def grad_heatmap(report: Report) -> Figure | None:
    """Layers x updates, gradient norm on a log colour scale; special cells hatched with a legend."""
    grid = views.grad_grid(report)
    if not grid.layers or not grid.steps:
        return None
    data, special = _grid_cells(grid.values, len(grid.steps))
    positives = [v for row in data for v in row if not math.isnan(v)]
    kinds = [kind for kind, rects in special.items() if rects]
    labels = [views.written(report.run, name) for name in grid.layers]
    fig, ax, cax = _frame(_layer_height(len(grid.layers)), _layer_labels(labels),
                          colorbar=bool(positives), legend=bool(kinds))
    if positives:
        low, high = _log_range(positives)
        mesh = ax.imshow(data, aspect="auto", cmap=CMAP, norm=LogNorm(low, high),
                         interpolation="nearest")
        _colorbar(fig, mesh, cax, low, high)
    _hatch(ax, special)
    ax.set_xlim(-0.5, len(grid.steps) - 0.5)
    ax.set_ylim(len(grid.layers) - 0.5, -0.5)
    _step_ticks(ax, grid.steps)
    _label_layers(ax, labels)
    _style(ax, "Gradient norm per layer and step")
    if kinds:
        fig.legend(handles=[_legend_patch(k) for k in kinds], loc="lower center",
                   ncols=len(kinds), fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def _colorbar(fig: Figure, mesh: Any, cax: Any, low: float, high: float) -> None:
    bar = fig.colorbar(mesh, cax=cax)
    bar.set_label("gradient norm (log scale)", color=TEXT, fontsize=8)
    bar.ax.tick_params(colors=TEXT, labelsize=8)
    _log_ticks(bar.ax.yaxis, low, high)


def grad_bars(report: Report, update: int = -1) -> Figure | None:
    """Each layer's gradient norm at one update (log scale); layers without gradient say so."""
    if not report.outcome.updates:
        return None
    rows = views.layer_rows(report, update)
    if not rows:
        return None
    kinds = [_kind(r.grad_norm) for r in rows]
    finite = [g for r, k in zip(rows, kinds) if k == "ok" and (g := r.grad_norm) is not None]
    low = min(finite) / 3 if finite else 1e-3
    high = max(finite) * 3 if finite else 1.0
    used = [k for k in ("none", "zero", "bad") if k in kinds]
    fig, ax, _ = _frame(_layer_height(len(rows)), _layer_labels([r.name for r in rows]),
                        legend=bool(used))
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    _log_ticks(ax.xaxis, low, high)
    if not finite:  # no bar to measure: a scale would only suggest numbers that do not exist
        ax.set_xticks([])
    ok = [(y, r.grad_norm) for y, (r, k) in enumerate(zip(rows, kinds)) if k == "ok"]
    if ok:
        ax.barh([y for y, _ in ok], [v for _, v in ok], color=LINE, height=0.7)
    for kind in used:
        ys = [y for y, k in enumerate(kinds) if k == kind]
        p = _legend_patch(kind)
        ax.barh(ys, [high] * len(ys), left=low, height=0.7, color=p.get_facecolor(),
                edgecolor=p.get_edgecolor(), hatch=p.get_hatch(), linewidth=0.5)
        for y in ys:
            word = {"none": "no gradient", "zero": "0", "bad": fmt(rows[y].grad_norm)}[kind]
            ax.text(low * 1.15, y, word, va="center", ha="left", fontsize=8, color=TEXT,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _label_layers(ax, [r.name for r in rows])
    ax.set_xlabel("gradient norm (log scale)", color=TEXT, fontsize=8)
    _style(ax, f"Gradient norm per layer at {report.outcome.updates[update].label}")
    if used:
        fig.legend(handles=[_legend_patch(k) for k in used], loc="lower center", ncols=3,
                   fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def loss_curve(report: Report) -> Figure | None:
    """Each optimizer's loss per update (a GAN's D and G as two lines); every backward call's
    loss too when an update had several."""
    series = report.outcome.losses
    points = views.loss_points(report.outcome.updates)
    if not series or not points:
        return None
    fig, ax, _ = _frame(3.0)
    colours = [LINE, "#2ca02c", "#9467bd", "#8c564b"]
    values: list[float] = []
    for i, line in enumerate(series):
        known = [(s, v) for s, v in zip(line.steps, line.values) if v is not None and math.isfinite(v)]
        values += [v for _, v in known]
        if known:
            label = f"loss of '{line.owner}'" if line.owner else "loss of each step"
            ax.plot([s for s, _ in known], [v for _, v in known], marker="o",
                    color=colours[i % len(colours)], label=label)
    counts = {s: sum(1 for p in points if p[0] == s) for s, _, _ in points}
    several = [(s + k / counts[s], v) for s, k, v in points
               if counts[s] > 1 and v is not None and math.isfinite(v)]
    if several:
        ax.scatter([x for x, _ in several], [v for _, v in several], s=14, color=ACCENT,
                   marker="s", label="every backward call", zorder=3)
        values += [v for _, v in several]
    if values and min(values) > 0 and max(values) / min(values) > 50:
        ax.set_yscale("log")
        _log_ticks(ax.yaxis, min(values), max(values))
    elif values:
        ax.set_ylim(*loss_limits(values))
    for s, _, v in points:
        if v is not None and not math.isfinite(v):
            ax.axvline(s, color=BAD_FACE, linestyle="--")
            ax.text(s, 0.95, f" {fmt(v)}", color=BAD_EDGE, fontsize=8, va="top",
                    transform=ax.get_xaxis_transform())
    steps = sorted(counts)
    _step_ticks(ax, steps, [float(s) for s in steps])
    ax.set_xlim(min(steps) - 0.5, max(steps) + (1.0 if several else 0.5))
    ax.set_ylabel("loss", color=TEXT, fontsize=8)
    ax.grid(True, color="#dddddd", linewidth=0.5)
    _style(ax, "Loss per step" + (" and optimizer" if len(series) > 1 else ""))
    if values:
        ax.legend(fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def activation_bars(report: Report) -> Figure | None:
    """Saturated and dead fractions per layer (0..1); absent when the run recorded none."""
    rows = activations.activation_rows(report.run)
    if not rows:
        return None
    fig, ax, _ = _frame(_layer_height(len(rows)), _layer_labels([r.layer for r in rows]),
                        legend=True)
    saturated = [(y, r.saturated_fraction) for y, r in enumerate(rows)
                 if r.saturated_fraction is not None]
    dead = [(y, r.dead_fraction) for y, r in enumerate(rows) if r.dead_fraction is not None]
    if saturated:
        ax.barh([y - 0.2 for y, _ in saturated], [v for _, v in saturated], height=0.4,
                color=ACCENT)
    if dead:
        ax.barh([y + 0.2 for y, _ in dead], [v for _, v in dead], height=0.4, color=LINE,
                hatch="\\\\", edgecolor="white")
    for y, r in enumerate(rows):  # each bar says its number as the table does; n/a is not 0
        for offset, value in ((-0.2, r.saturated_fraction), (0.2, r.dead_fraction)):
            ax.text((value or 0.0) + 0.005, y + offset, "n/a" if value is None else fmt(value),
                    va="center", fontsize=7, color="#555555")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _label_layers(ax, [r.layer for r in rows])
    ax.set_xlabel("fraction of units", color=TEXT, fontsize=8)
    _style(ax, "Activations: saturated and dead units")
    fig.legend(handles=[Patch(facecolor=ACCENT, label="saturated"),
                        Patch(facecolor=LINE, hatch="\\\\", edgecolor="white", label="dead")],
               loc="lower center", ncols=2, fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


def _original_of(report: Report, d: Diagnosis) -> tuple[str, list[float | None], list[str],
                                                        list[list[float | None]]]:
    """(label, losses, layers, gradient grid) of the cell's own run a tried fix is compared with:
    the check's, or the cell run again when the state had changed."""
    v = d.verification
    assert v is not None
    if v.baseline is not None:
        b = v.baseline
        return "your cell, run again", b.losses, b.layers, b.grad_norms
    grid = views.grad_grid(report)
    return "your cell", v.original_losses, grid.layers, grid.values


def trial_losses(report: Report, d: Diagnosis) -> Figure | None:
    """The loss per step of the cell and of the corrected cell on one plot; of a learning-rate
    sweep, one line per rate tried, the chosen one bold."""
    v = d.verification
    if v is None:
        return None
    label, original, _, _ = _original_of(report, d)
    lines: list[tuple[str, list[float | None], str, float, str]] = [
        (label, original, "#7f7f7f", 1.5, "--")]
    if v.candidates:
        colours = [LINE, "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
        for i, t in enumerate(v.candidates):
            chosen = t == v.trial
            lines.append((f"lr={t.lr:g}" + (" (chosen)" if chosen else ""), t.losses,
                          colours[i % len(colours)], 2.6 if chosen else 1.2, "-"))
    else:
        lines.append(("corrected", v.trial.losses, LINE, 2.4, "-"))
    fig, ax, _ = _frame(3.0)
    tried = [x for _, series, *_ in lines[1:] for x in series if x is not None and math.isfinite(x)]
    first = next((x for x in original if x is not None and math.isfinite(x)), None)
    # a cell whose loss blew up would flatten the tried runs into a line: they set the scale,
    # and where the cell's loss leaves it, it is said in words
    focus = tried + ([first] if first is not None else [])
    cap = max(focus) * 3 if focus and max(focus) > 0 else None
    values: list[float] = []
    for name, series, colour, width, style in lines:
        if cap is not None and name == label and any(
                x is not None and math.isfinite(x) and x > cap for x in series):
            out = next(i for i, x in enumerate(series) if x is not None and (
                not math.isfinite(x) or x > cap))
            top = max(x for x in series if x is not None and math.isfinite(x))
            ax.text(out, 0.95, f" {name}: off the scale from step {out} (up to {fmt(top)})",
                    color=colour, fontsize=7, va="top", transform=ax.get_xaxis_transform(),
                    parse_math=False)
            series = [x if x is not None and math.isfinite(x) and x <= cap else None
                      for x in series[:out]] + [None] * (len(series) - out)
        known = [(i, x) for i, x in enumerate(series) if x is not None and math.isfinite(x)]
        values += [x for _, x in known]
        if known:
            ax.plot([i for i, _ in known], [x for _, x in known], marker="o", markersize=3,
                    color=colour, linewidth=width, linestyle=style, label=name)
        bad = next((i for i, x in enumerate(series) if x is not None and not math.isfinite(x)),
                   None)
        if bad is not None:
            ax.axvline(bad, color=colour, linestyle=":", linewidth=1)
            ax.text(bad, 0.95, f" {name}: {fmt(series[bad])}", color=colour, fontsize=7,
                    va="top", transform=ax.get_xaxis_transform(), parse_math=False)
    if not values:
        return None
    if min(values) > 0 and max(values) / min(values) > 50:
        ax.set_yscale("log")
        _log_ticks(ax.yaxis, min(values), max(values))
    else:
        ax.set_ylim(*loss_limits(values))
    longest = max(len(series) for _, series, *_ in lines)
    _step_ticks(ax, list(range(longest)), [float(i) for i in range(longest)])
    ax.set_xlim(-0.5, max(longest - 0.5, 0.5))
    ax.set_ylabel("loss", color=TEXT, fontsize=8)
    ax.grid(True, color="#dddddd", linewidth=0.5)
    _style(ax, f"{d.code}: loss per step of each learning rate tried" if v.candidates else
           f"{d.code}: loss per step, your cell and the corrected cell")
    ax.legend(fontsize=7, frameon=False, labelcolor=TEXT)
    return fig


def trial_heatmaps(report: Report, d: Diagnosis) -> Figure | None:
    """The gradient-flow heat map of the cell and of the corrected cell, side by side, on one
    colour scale; a layer only one run has is blank in the other."""
    v = d.verification
    if v is None:
        return None
    label, _, left_layers, left = _original_of(report, d)
    right_layers, right = v.trial.layers, v.trial.grad_norms
    layers = left_layers + [name for name in right_layers if name not in left_layers]
    if not layers:
        return None

    drawn = []
    for title, names, grid in ((label, left_layers, left),
                               ("corrected" if v.trial.lr is None else f"lr={v.trial.lr:g}",
                                right_layers, right)):
        columns = max((len(row) for row in grid), default=0)
        by_name = dict(zip(names, grid))
        data, special = _grid_cells([by_name.get(name, [None] * columns) for name in layers],
                                    columns)
        absent = {i for i, name in enumerate(layers) if name not in by_name}
        for kind in special:  # a layer this run does not have: blank, not "no gradient"
            special[kind] = [r for r in special[kind] if round(r.get_y() + 0.5) not in absent]
        drawn.append((title, data, special, columns))
    positives = [x for _, data, _, _ in drawn for row in data for x in row if not math.isnan(x)]
    kinds = sorted({k for _, _, special, _ in drawn for k, rects in special.items() if rects})
    labels = _layer_labels([views.written(report.run, name) for name in layers])
    height = _layer_height(len(layers))
    left_margin = 0.25 + INCH_PER_CHAR * max((len(x) for x in labels), default=6)
    right_margin, gap, top, bottom = 1.05, 0.25, 0.35, 0.5 + (0.3 if kinds else 0.0)
    width = (WIDTH - left_margin - right_margin - gap) / 2
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    axes = [fig.add_axes(((left_margin + i * (width + gap)) / WIDTH, bottom / height,
                          width / WIDTH, (height - top - bottom) / height)) for i in range(2)]
    low, high = _log_range(positives) if positives else (1.0, 10.0)
    norm = LogNorm(low, high) if positives else None
    mesh = None
    for ax, (title, data, special, columns) in zip(axes, drawn):
        if norm is not None and columns:
            mesh = ax.imshow(data, aspect="auto", cmap=CMAP, norm=norm, interpolation="nearest")
        _hatch(ax, special)
        ax.set_xlim(-0.5, max(columns, 1) - 0.5)
        ax.set_ylim(len(layers) - 0.5, -0.5)
        _step_ticks(ax, list(range(columns)))
        _style(ax, title)
        ax.set_yticks([])
    _label_layers(axes[0], [views.written(report.run, name) for name in layers])
    if mesh is not None and norm is not None:
        cax = fig.add_axes(((WIDTH - right_margin + 0.1) / WIDTH, bottom / height, 0.15 / WIDTH,
                            (height - top - bottom) / height))
        _colorbar(fig, mesh, cax, low, high)
    if kinds:
        fig.legend(handles=[_legend_patch(k) for k in kinds], loc="lower center",
                   ncols=len(kinds), fontsize=8, frameon=False, labelcolor=TEXT)
    return fig


TRIAL_FIGURES: dict[str, tuple[str, Callable[[Report, Diagnosis], Figure | None]]] = {
    "losses": ("Loss per step of your cell and of the corrected cell", trial_losses),
    "heatmaps": ("Gradient norm per layer and step, your cell and the corrected cell",
                 trial_heatmaps),
}


_WARM: list[bool] = []


def warm_up() -> None:
    """Draw a tiny figure once per process: fonts and lazy imports load before the run starts,
    not between its last step and the dashboard (about a third of a second the first time).
    Only a speed-up: if drawing fails here, the figures of the report say why later."""
    if _WARM:
        return
    _WARM.append(True)
    try:
        with _plain_text():
            fig, ax, _ = _frame(1.0, ["x"])
            ax.set_yscale("log")
            ax.text(0.5, 0.5, "0.1", color=TEXT, fontsize=8)
            png(fig)
    except Exception:  # the report's figures are drawn (and fail visibly) later
        return


def _plain_text() -> Any:
    """Draw text with matplotlib's own renderer even when the session asked for LaTeX."""
    return matplotlib.rc_context({"text.usetex": False})


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # light compression: zlib's default level takes a third of the drawing time for ~30% less size
    with _plain_text():
        fig.savefig(buffer, format="png", dpi=DPI, facecolor=fig.get_facecolor(),
                    pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


FIGURES: dict[str, tuple[str, Callable[[Report], Figure | None]]] = {
    "heatmap": ("Gradient norm per layer and step", grad_heatmap),
    "loss": ("Loss per step", loss_curve),
    "activations": ("Activation saturation and dead units", activation_bars),
}


class FigureSet:
    """The PNGs of one report, each drawn once on first use and shared by the widget and the HTML.

    A figure that fails to draw is None, with the reason in `failures`: the rest still shows.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self._png: dict[str, bytes | None] = {}
        self.failures: dict[str, str] = {}

    def _draw(self, key: str, draw: Callable[[], Figure | None]) -> bytes | None:
        if key not in self._png:
            try:
                with _plain_text():
                    fig = draw()
                    self._png[key] = None if fig is None else png(fig)
            except Exception as error:
                self._png[key] = None
                self.failures[key] = f"{type(error).__name__}: {error}"
        return self._png[key]

    def get(self, name: str) -> bytes | None:
        return self._draw(name, lambda: FIGURES[name][1](self.report))

    def bars(self, update: int) -> bytes | None:
        key = f"bars:{update % max(len(self.report.outcome.updates), 1)}"
        return self._draw(key, lambda: grad_bars(self.report, update))

    def trial(self, index: int, kind: str) -> bytes | None:
        """A figure of diagnosis `index`'s tried fix ("losses" or "heatmaps")."""
        d = self.report.diagnoses[index]
        draw = TRIAL_FIGURES[kind][1]
        return self._draw(f"trial:{kind}:{index}", lambda: draw(self.report, d))

    def trial_html(self) -> dict[int, str]:
        """Diagnosis index -> `<img>` tags of its tried fix's figures."""
        out = {}
        for i, d in enumerate(self.report.diagnoses):
            if d.verification is not None:
                tags = [img_tag(data, alt) for kind, (alt, _) in TRIAL_FIGURES.items()
                        if (data := self.trial(i, kind)) is not None]
                out[i] = "".join(tags)
        return out

    def html(self) -> str:
        """`<img>` tags with the PNGs inline (base64), for the static report."""
        parts = []
        for name, (alt, _) in FIGURES.items():
            data = self.get(name)
            if data is not None:
                parts.append(img_tag(data, alt))
            if name == "heatmap" and self.report.outcome.updates:
                bars = self.bars(-1)
                if bars is not None:
                    parts.append(img_tag(bars, "Gradient norm per layer at the last update"))
        parts += [f'<p class="nbgrad-note">The figure {escape(key)} could not be drawn '
                  f"({escape(reason)}); the tables show its numbers.</p>"
                  for key, reason in self.failures.items()]
        return "".join(parts)


def img_tag(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<img class="nbgrad-figure" alt="{escape(alt)}" style="max-width:100%" '
            f'src="data:image/png;base64,{encoded}">')
