"""Reading rendered reports back: the tables of the text report, of the static HTML, and of the
widget dashboard, as rows of strings, so tests can compare what each view shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from nbgrad.render.figures import FigureSet


def text_tables(text: str) -> dict[str, list[list[str]]]:
    """Title -> rows (header first) of every table in a text report, cut at the header's columns."""
    tables: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not (line.endswith(":") and not line.startswith(" ") and i + 1 < len(lines)
                and lines[i + 1].startswith("  ")):
            continue
        header = lines[i + 1]
        starts = [m.start() for m in re.finditer(r"(?:(?<=^)|(?<=\s\s))\S", header)]
        rows = []
        for row in lines[i + 1:]:
            if not row.startswith("  ") or row.startswith("  ("):
                break
            bounds = [*starts[1:], None]
            rows.append([row[a:b].strip() for a, b in zip(starts, bounds)])
        tables[line[:-1]] = rows
    return tables


class HtmlTables(HTMLParser):
    """Title (the <h4> before it) -> rows (header first) of every table in an HTML fragment; a
    table's rest folded into <details> joins its rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.title = ""
        self._in: str | None = None
        self._cell: list[str] = []
        self._row: list[str] | None = None
        self._heading = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h4":
            self._heading, self.title = True, ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._in, self._cell = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h4":
            self._heading = False
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._in = None
        elif tag == "tr" and self._row is not None:
            rows = self.tables.setdefault(self.title, [])
            if not (rows and self._row == rows[0]):  # the folded part repeats the header
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._heading:
            self.title += data
        elif self._in:
            self._cell.append(data)


def html_tables(html: str) -> dict[str, list[list[str]]]:
    return HtmlTables(html).tables


def widget_rows(table: Any) -> list[list[str]]:
    """A SortableTable's rows as every view writes them (header first), in the given order."""
    return [[c.title for c in table.columns], *[[c.text(r) for c in table.columns]
                                               for r in table.rows]]


class NoFigures(FigureSet):
    """A figure set that draws nothing: for tests about the widgets' words and numbers."""

    def get(self, name: str) -> bytes | None:
        return None

    def bars(self, update: int) -> bytes | None:
        return None

    def trial(self, index: int, kind: str) -> bytes | None:
        return None
