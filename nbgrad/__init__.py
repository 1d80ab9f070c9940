"""nbgrad: run a PyTorch training cell for a few instrumented steps and learn why it won't learn.

    %load_ext nbgrad
    %%gradcheck --steps 10
    <your training cell>
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from nbgrad.api import capture, gradcheck, last_report
from nbgrad.classroom import compare, reveal, summary
from nbgrad.report import Report

__all__ = ["Report", "__version__", "capture", "compare", "gradcheck", "last_report",
           "load_ipython_extension", "reveal", "summary", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext nbgrad`: register the `%%gradcheck` cell magic."""
    from nbgrad.magic import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext nbgrad`: remove the magic; nbgrad keeps no other global state between runs."""
    from nbgrad.magic import unload

    unload(ipython)
