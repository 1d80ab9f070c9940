"""Find the line of the user's cell from which a training call was made."""

from __future__ import annotations

import sys
from types import FrameType

import torch

from nbgrad.capture.stop_guard import is_user_file


def cell_line(filename: str) -> int | None:
    """Line number of the innermost frame that runs code compiled from the cell `filename`.

    Walking frames is a few microseconds and needs no tracing; functions defined in the cell
    count too, so a `train_step()` helper points at its own line inside the cell. Inside code that
    torch.compile traces there is no line: `sys._getframe` would break the compiled graph.
    """
    if torch.compiler.is_compiling():
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == filename:
            return frame.f_lineno
        frame = frame.f_back
    return None


def outside_cell(filename: str) -> str:
    """`file:line` of the innermost user frame when it is not in the cell, '' when it is.

    Library frames (torch, nbgrad, the standard library, site-packages) are skipped, so an op in
    the forward() of a class defined in an earlier cell or a module file is placed there, where
    its fix belongs.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name == filename:
            return ""
        if is_user_file(name):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return ""
