"""nbgrad's own exceptions: what the user did wrong, said so that they know what to do."""

from __future__ import annotations


class NbgradError(Exception):
    """Base of nbgrad's own errors (never raised for the user's own exceptions)."""


class NbgradUsageError(NbgradError, ValueError):
    """A wrong argument to the Python API; the magic turns it into IPython's UsageError."""


def usage_message(problem: str, fix: str, example: str) -> str:
    """The one format of every usage error: what is wrong / To fix it / an example."""
    return f"{problem}\nTo fix it: {fix}\nExample: {example}"
