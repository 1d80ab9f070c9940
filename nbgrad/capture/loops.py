"""How many items each `for` loop of the cell goes over, when the namespace can say it cheaply.

`for xb, yb in loader:` over a DataLoader of 12 batches is recorded as (line, "loader", 12), so a
report can say that the check stopped the loop in its first epoch, and which lines after the loop
therefore never ran. Only objects whose length is known without iterating are asked: a DataLoader
over a sized dataset, a list, tuple, range, dict or tensor; anything else is left out.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import torch

from nbgrad.records import LoopLength

SIZED = (list, tuple, range, dict, torch.Tensor)


def _length(value: Any) -> int | None:
    try:
        if isinstance(value, torch.utils.data.DataLoader):
            return len(value)  # batches; raises TypeError for an iterable-style dataset
        if isinstance(value, SIZED):
            return len(value)
    except Exception:  # the user's object cannot say: nothing is recorded
        return None
    return None


def _lookup(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    """The object a plain name or attribute chain (`data.train_loader`) refers to; None else."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _lookup(node.value, namespace)
        try:
            return None if owner is None else getattr(owner, node.attr, None)
        except Exception:
            return None
    return None


def loop_lengths(source: str, first_line: int, namespace: Mapping[str, Any]) -> list[LoopLength]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.For):
            continue
        iterable = node.iter
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
                and iterable.func.id == "enumerate" and iterable.args:
            iterable = iterable.args[0]  # enumerate(loader) has loader's length
        length = _length(_lookup(iterable, namespace))
        if length is not None:
            out.append(LoopLength(node.lineno + first_line - 1, ast.unparse(iterable), length))
    return out
