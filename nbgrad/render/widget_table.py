"""A sortable, paged table widget: hundreds of layers or parameters without a wall of text.

The rows are plain objects (views' dataclasses) and the columns those every view shows
(render/columns.py); the table keeps the rows as numbers so sorting is by value, and formats only
the visible page as one HTML widget (one model per table, not per cell).
Missing values (no gradient, not stepped) sort first in both directions: they are what to look at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import ipywidgets as W

from nbgrad.diagnose.glossary import term
from nbgrad.render import views
from nbgrad.render.columns import Column
from nbgrad.render.style import HEALTH_WORD

PAGE_SIZE = 20
NAME_WIDTH = 36


def _tooltip(title: str) -> str:
    """A header's meaning and healthy range (nbgrad.diagnose.glossary), shown on hover."""
    found = term(title)
    return "" if found is None else f' title="{escape(found.line(), quote=True)}"'


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _by_value(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


class SortableTable:
    """Sort by any column (a dropdown and an order toggle), page through the rows."""

    def __init__(self, columns: Sequence[Column], rows: Sequence[Any], *,
                 page_size: int = PAGE_SIZE, default_order: str = "") -> None:
        self.columns = list(columns)
        self.page_size = page_size
        self.page = 0
        options = ([(default_order, "")] if default_order else []) + \
            [(c.title, c.key) for c in self.columns]
        self.sort_by = W.Dropdown(options=options, value=options[0][1], description="sort by",
                                  layout=W.Layout(width="260px"))
        self.order = W.ToggleButtons(options=[("↑ ascending", "asc"), ("↓ descending", "desc")],
                                     value="asc", style={"button_width": "110px"})
        self.body = W.HTML()
        self.previous = W.Button(description="previous", icon="chevron-left",
                                 layout=W.Layout(width="110px"))
        self.next = W.Button(description="next", icon="chevron-right",
                             layout=W.Layout(width="110px"))
        self.page_label = W.Label()
        self.pager = W.HBox([self.previous, self.page_label, self.next])
        self.previous.on_click(lambda _: self.turn(-1))
        self.next.on_click(lambda _: self.turn(+1))
        self.sort_by.observe(self._resort, names="value")
        self.order.observe(self._resort, names="value")
        self.controls = W.HBox([self.sort_by, self.order])
        self.widget = W.VBox([self.controls, self.body, self.pager])
        self.set_rows(rows)

    # -- state ---------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any]) -> None:
        self.rows = list(rows)
        self.page = min(self.page, self.pages - 1)
        self._render()

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self.rows) / self.page_size))

    def sorted_rows(self) -> list[Any]:
        key, descending = self.sort_by.value, self.order.value == "desc"
        if not key:
            return self.rows[::-1] if descending else list(self.rows)
        missing = [r for r in self.rows if _missing(getattr(r, key))]
        present = [r for r in self.rows if not _missing(getattr(r, key))]
        present.sort(key=lambda r: _by_value(getattr(r, key)), reverse=descending)
        return missing + present

    def visible_rows(self) -> list[Any]:
        start = self.page * self.page_size
        return self.sorted_rows()[start:start + self.page_size]

    def turn(self, delta: int) -> None:
        self.page = min(max(self.page + delta, 0), self.pages - 1)
        self._render()

    def _resort(self, _: Any = None) -> None:
        self.page = 0
        self._render()

    # -- drawing -------------------------------------------------------------------------
    def _cell(self, column: Column, row: Any) -> str:
        text = column.text(row)
        if column.name:
            short = views.short_name(text, NAME_WIDTH)
            return f'<span title="{escape(text)}">{escape(short)}</span>'
        if column.show is None and getattr(row, column.key) is None:
            return f'<span class="nbgrad-missing">{escape(text)}</span>'
        found = term(column.title)
        value = getattr(row, column.key, None)
        judged = found.judge(value) if found is not None and column.numeric \
            and isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if found is not None and judged is not None:  # colour and the word, never colour alone
            word = HEALTH_WORD[judged]
            return (f'<span class="nbgrad-{judged}" title="healthy: '
                    f'{escape(found.healthy, quote=True)}">{escape(text)} ({word})</span>')
        if column.strong is not None and column.strong(row):
            return f"<b>{escape(text)}</b>"
        return escape(text)

    def _render(self) -> None:
        arrow = " ▲" if self.order.value == "asc" else " ▼"
        num = {c.key: ' class="num"' if c.numeric else "" for c in self.columns}
        head = "".join(f"<th{num[c.key]}{_tooltip(c.title)}>{escape(c.title)}"
                       f"{arrow if c.key == self.sort_by.value else ''}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td{num[c.key]}>{self._cell(c, r)}</td>"
                                        for c in self.columns)
                       + "</tr>" for r in self.visible_rows())
        self.body.value = (f'<table class="nbgrad-table"><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table>")
        start = self.page * self.page_size
        end = min(start + self.page_size, len(self.rows))
        self.page_label.value = f"rows {start + 1 if self.rows else 0}-{end} of {len(self.rows)}"
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.pager.layout.display = "" if self.pages > 1 else "none"
        self.controls.layout.display = "" if len(self.rows) > 2 else "none"  # nothing to order
