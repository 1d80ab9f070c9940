"""The one mime bundle a report displays as: widget view + static HTML + plain text.

JupyterLab shows the widget; GitHub, nbviewer and nbconvert (no widget state) show the HTML with
its embedded figures; a terminal IPython prints the text. The widget is only built where a kernel
can talk to a widget frontend, and a failure to build it never costs the static report.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape
from typing import TYPE_CHECKING, Any

from nbgrad.render import html

if TYPE_CHECKING:
    from nbgrad.report import Report

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def has_widget_frontend() -> bool:
    """True inside a Jupyter kernel (comms to a frontend); False in a terminal or a script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def wanted(include: Collection[str] | None, exclude: Collection[str] | None,
           widget: bool | None) -> set[str]:
    """The mime types worth computing: a terminal shows only text, so no figures are drawn."""
    types = {"text/plain", "text/html"}
    if has_widget_frontend() if widget is None else widget:
        types.add(WIDGET_MIME)
    else:
        from IPython import get_ipython

        shell = get_ipython()
        active = getattr(getattr(shell, "display_formatter", None), "active_types", None)
        if active is not None:
            types &= set(active)
    if include:
        types &= set(include)
    if exclude:
        types -= set(exclude)
    return types


def _cell_ids() -> tuple[str | None, list[str]]:
    """The notebook cell being run and the cells deleted since, as JupyterLab tells the kernel in
    each execute request's metadata ("cellId", "deletedCells"); (None, []) elsewhere."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        metadata = kernel.get_parent("shell").get("metadata", {}) if kernel is not None else {}
    except Exception:  # an older kernel, no request: nothing to close
        return None, []
    cell = metadata.get("cellId")
    deleted = metadata.get("deletedCells") or []
    return (cell if isinstance(cell, str) else None), [d for d in deleted if isinstance(d, str)]


def mimebundle(report: Report, include: Collection[str] | None = None,
               exclude: Collection[str] | None = None, widget: bool | None = None
               ) -> dict[str, Any]:
    """The bundle; `widget` forces the widget view on or off (default: where a kernel runs)."""
    from nbgrad.render.figures import FigureSet

    types = wanted(include, exclude, widget)
    figures = FigureSet(report)
    data: dict[str, Any] = {"text/plain": report.to_text()} if "text/plain" in types else {}
    note = ""
    if WIDGET_MIME in types:
        try:
            from nbgrad.render.widget import Dashboard, displayed

            dashboard = Dashboard(report, figures)
            view = dashboard.widget._repr_mimebundle_()
            data[WIDGET_MIME] = view[WIDGET_MIME]
            displayed(dashboard, *_cell_ids())
        except Exception as error:  # the static report below still shows everything
            note = (f"<p>nbgrad could not build its widget dashboard ({type(error).__name__}: "
                    f"{escape(str(error))}); this is the static report.</p>")
    if "text/html" in types:
        data["text/html"] = note + html.render(report, figures.html(), figures.trial_html())
    return data
