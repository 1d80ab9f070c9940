"""How severities and outcomes look, in words, icons and colours: one table for every view.

Icons are symbols of plain text fonts (DejaVu has them), not emoji, so they render without an
emoji font; severity is always a word too, never colour alone.
"""

from __future__ import annotations

from nbgrad.diagnose.outcome import Status
from nbgrad.diagnose.verification import TRIAL_WORDS

SEVERITY_ICON = {"error": "✖", "warning": "⚠", "info": "ℹ"}
SEVERITY_WORD = {"error": "error", "warning": "warning", "info": "note"}
# the text report's bracket label: problems in capitals so they stand out in a terminal
SEVERITY_LABEL = {"error": "ERROR", "warning": "WARNING", "info": "note"}
STATUS_ICON: dict[Status, str] = {"failed": "✖", "error": "✖", "warning": "⚠", "nothing": "⚠",
                                  "clean": "✔"}
# JupyterLab's theme colours, with fallbacks for pages without its CSS (GitHub, nbviewer)
SEVERITY_COLOR = {"error": "var(--jp-error-color1,#d32f2f)",
                  "warning": "var(--jp-warn-color1,#f9a825)",
                  "info": "var(--jp-info-color1,#0288d1)"}


def severity_css(selector: str) -> str:
    """`selector` with `{severity}` in it, given each severity's colour as a left border."""
    return "".join(f"{selector.format(severity=s)}{{border-left-color:{c}}}"
                   for s, c in SEVERITY_COLOR.items())

# a tried fix: what its verification found (Verification.status)
TRIAL_ICON = {"helped": "✔", "partly": "◐", "did not help": "✘", "raised": "✖", "stopped": "■"}
TRIAL_WORD = TRIAL_WORDS
