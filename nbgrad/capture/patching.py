"""Replace a function for the length of a run, so that nothing of the run outlives it.

What is installed is a small forwarding function, not the wrapper itself. While the run lasts it
forwards to the wrapper; once the patch is undone it forwards to the original and drops the
wrapper. That matters because the user's code can take hold of the installed function:
`from torch.nn.utils import clip_grad_norm_` in a checked cell binds it, and every later call must
neither record into the finished run nor keep its recorder (and the parameters it holds) alive.

Undoing puts the original back only when the installed function is still there: a replacement the
user made in the meantime (`torch.nn.utils.clip_grad_norm_ = my_clip`) is theirs and stays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def replace(owner: Any, name: str, wrap: Callable[[Any], Any]) -> Callable[[], None]:
    """Install `wrap(original)` as `owner.name` (a module or a class); returns the undo."""
    original = owner.__dict__[name]
    live: list[Any] = [wrap(original)]

    @functools.wraps(original)
    def forward(*args: Any, **kwargs: Any) -> Any:
        target = live[0]
        return (original if target is None else target)(*args, **kwargs)

    setattr(owner, name, forward)

    def undo() -> None:
        live[0] = None
        if owner.__dict__.get(name) is forward:
            setattr(owner, name, original)

    return undo
