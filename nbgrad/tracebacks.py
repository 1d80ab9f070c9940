"""The user's traceback as it would read without nbgrad: their own code's frames and torch's.

While a run records, an error in the user's code travels through frames of nbgrad's own (the
runner of the cell, the wrappers of `backward()` and `zero_grad()`, the probe's TorchFunctionMode)
and through the detour torch takes to reach that mode (`handle_torch_function`, then the same torch
function entered a second time). What the user reads must be the traceback of their code, so those
frames are left out of what is shown. The exception object and its own `__traceback__` are never
touched: a new chain of traceback entries is built beside it.
"""

from __future__ import annotations

import os
from types import FrameType, TracebackType

_NBGRAD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_nbgrad(frame: FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_NBGRAD_DIR)


def _is_dispatch(frame: FrameType) -> bool:
    """torch's `handle_torch_function`, which calls a TorchFunctionMode's `__torch_function__`."""
    return (frame.f_code.co_name == "handle_torch_function"
            and frame.f_code.co_filename.endswith(os.path.join("torch", "overrides.py")))


def user_traceback(tb: TracebackType | None, filename: str) -> TracebackType | None:
    """The entries of `tb` from the first frame of `filename` (the user's cell or script) on,
    without nbgrad's frames and torch's detour into nbgrad's TorchFunctionMode; `tb` itself when
    no frame of `filename` is in it (the error came before the user's code ran)."""
    entries: list[tuple[FrameType, int, int]] = []
    started = False
    entry = tb
    while entry is not None:
        started = started or entry.tb_frame.f_code.co_filename == filename
        if started:
            entries.append((entry.tb_frame, entry.tb_lasti, entry.tb_lineno))
        entry = entry.tb_next
    if not entries:
        return tb
    kept: list[tuple[FrameType, int, int]] = []
    for index, (frame, lasti, lineno) in enumerate(entries):
        if _is_nbgrad(frame):
            continue
        if _is_dispatch(frame) and index + 1 < len(entries) and _is_nbgrad(entries[index + 1][0]):
            following = next((e[0] for e in entries[index + 1:] if not _is_nbgrad(e[0])), None)
            if kept and following is not None and kept[-1][0].f_code is following.f_code:
                kept.pop()  # the torch function's first entry, which only dispatched to the mode
            continue
        kept.append((frame, lasti, lineno))
    chain: TracebackType | None = None
    for frame, lasti, lineno in reversed(kept):
        chain = TracebackType(chain, frame, lasti, lineno)
    return chain
