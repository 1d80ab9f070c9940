"""How the cell forms its batches, read from its text: where it shuffles, which loaders it
builds, where it fetches a batch. The records decide that something is wrong (labels that do not
pair, one batch at every step, one class per batch); these lines say where to change it.
"""

from __future__ import annotations

import re

from nbgrad.diagnose.facts.cell import cell_lines
from nbgrad.records import Run

__all__ = ["fresh_iterator_line", "independent_shuffles", "unshuffled_loader_line"]

_SHUFFLE = re.compile(r"\b(?:np\.random|numpy\.random|random|rng|\w+)\.shuffle\(\s*([\w.]+)")
_LOADER = re.compile(r"^\s*(\w+)\s*=\s*(?:[\w.]+\.)?DataLoader\(")


def _code(text: str) -> str:
    return text.split("#", 1)[0]


def independent_shuffles(run: Run) -> list[int]:
    """Lines that shuffle inputs and labels each on their own: `np.random.shuffle(x)` and
    `np.random.shuffle(y)`, or two `DataLoader(..., shuffle=True)` that the loop zips together.
    Empty when the cell does not do that."""
    calls = [(n, m.group(1)) for n, text in cell_lines(run)
             if (m := _SHUFFLE.search(_code(text)))]
    if len({name for _, name in calls}) >= 2:
        return [n for n, _ in calls]
    loaders = {m.group(1): n for n, text in cell_lines(run)
               if (m := _LOADER.search(_code(text))) and re.search(r"shuffle\s*=\s*True", text)}
    for _, text in cell_lines(run):
        zipped = re.search(r"\bzip\(([^)]*)\)", _code(text))
        if zipped:
            names = [n for n in re.findall(r"\w+", zipped.group(1)) if n in loaders]
            if len(names) >= 2:
                return sorted(loaders[n] for n in names)
    return []


def fresh_iterator_line(run: Run) -> int | None:
    """A line inside a loop that makes a new iterator and takes its first item each time:
    `next(iter(loader))` returns the loader's first batch at every call."""
    for n, text in cell_lines(run):
        if re.search(r"\bnext\(\s*iter\(", _code(text)) and text[:1].isspace():
            return n
    return None


def unshuffled_loader_line(run: Run) -> int | None:
    """The line building a DataLoader without shuffle=True (one, or the training one)."""
    found = [n for n, text in cell_lines(run) if re.search(r"\bDataLoader\(", _code(text))
             and not re.search(r"shuffle\s*=\s*True", text)]
    return found[0] if len(found) == 1 else None
