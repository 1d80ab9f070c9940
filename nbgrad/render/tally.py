"""A class's tally as text (a bar of blocks per diagnosis), HTML and a small bar chart."""

from __future__ import annotations

from html import escape
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nbgrad.diagnose.glossary import docs_page
from nbgrad.render.figures import LINE, TEXT, _plain_text, img_tag, png
from nbgrad.render.style import SEVERITY_ICON, SEVERITY_WORD
from nbgrad.tally import Tally

BAR = 20  # the text bar of the most frequent diagnosis, in characters


def _heading(t: Tally) -> str:
    found = t.reports - t.clean
    return (f"{t.reports} report{'s' if t.reports != 1 else ''}: {found} with a problem, "
            f"{t.clean} without")


def to_text(t: Tally) -> str:
    lines = [f"nbgrad summary: {_heading(t)}", ""]
    top = max((c.reports for c in t.counts), default=1)
    width = max((len(f"{c.code} {c.slug}") for c in t.counts), default=0)
    for c in t.counts:
        bar = "█" * max(1, round(BAR * c.reports / top))
        lines.append(f"  {f'{c.code} {c.slug}'.ljust(width)}  {SEVERITY_WORD[c.severity]:<7}  "
                     f"{c.reports:>3} of {t.reports}  {bar}")
        lines.append(f"      e.g. {c.example}")
    if not t.counts:
        lines.append("  no diagnoses in these reports")
    lines += [f"  (could not read {u})" for u in t.unreadable]
    return "\n".join(lines) + "\n"


def chart(t: Tally) -> Figure | None:
    """How many reports had each diagnosis, most frequent on top, bars labelled with the count."""
    if not t.counts:
        return None
    shown = t.counts[:12]
    fig = Figure(figsize=(7.5, 0.5 + 0.32 * len(shown)), dpi=100, facecolor="white")
    ax = fig.add_axes((0.42, 0.5 / (0.5 + 0.32 * len(shown)) + 0.02, 0.5, 0.85
                       - 0.3 / (0.5 + 0.32 * len(shown))))
    labels = [f"{c.code} {c.slug}" for c in shown]
    values = [c.reports for c in shown]
    ax.barh(range(len(shown)), values, color=LINE, height=0.6)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v}", va="center", fontsize=8, color=TEXT)
    ax.set_yticks(range(len(shown)), labels, fontsize=8, color=TEXT)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, max(values) * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole reports
    ax.tick_params(axis="x", labelsize=8, colors=TEXT)
    ax.set_xlabel(f"reports (of {t.reports})", fontsize=8, color=TEXT)
    for spine in ax.spines.values():
        spine.set_color("#999999")
    return fig


def to_html(t: Tally) -> str:
    with _plain_text():
        fig = chart(t)
        image = "" if fig is None else img_tag(png(fig), "how many reports had each diagnosis")
    rows = "".join(
        f"<tr><td>{SEVERITY_ICON[c.severity]} {escape(SEVERITY_WORD[c.severity])}</td>"
        f"<td><code>{escape(c.code)}</code> {escape(c.slug)}</td>"
        f'<td class="num">{c.reports} of {t.reports}</td><td>{escape(c.example)}</td>'
        f"<td>{escape(docs_page(c.code))}</td></tr>" for c in t.counts)
    unread = "".join(f'<p class="nbgrad-note">could not read {escape(u)}</p>'
                     for u in t.unreadable)
    return (f'<div class="nbgrad-report"><div class="nbgrad-verdict">nbgrad summary: '
            f"{escape(_heading(t))}</div>{image}<table><thead><tr><th>severity</th>"
            "<th>diagnosis</th><th>reports</th><th>one example</th><th>read more</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>{unread}</div>")


class Summary:
    """What `nbgrad.summary()` returns: the tally, displayed as HTML with its chart, or text."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def to_text(self) -> str:
        return to_text(self.tally)

    def to_html(self) -> str:
        return to_html(self.tally)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def __str__(self) -> str:
        return self.to_text()
