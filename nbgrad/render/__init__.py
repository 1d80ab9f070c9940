"""Renderings of a report: text, static HTML, matplotlib figures, the ipywidgets dashboard."""
