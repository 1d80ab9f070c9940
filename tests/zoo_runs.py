"""Running zoo cells: one harness for every test that needs a zoo run (rules, consistency, golden).

`report(name, variant)` runs a cell through the Python API once per process and keeps its report,
so the consistency and golden tests render the very runs the rule tests judged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import nbgrad
from nbgrad.report import Report
from tests import zoo

IMPORTS = "import torch\nfrom torch import nn\nimport torch.nn.functional as F"
Runner = Callable[..., Report]


def namespace(variant: dict[str, int], setup: str = "") -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", **variant}
    exec(IMPORTS, ns)
    if setup:
        exec(setup, ns)
    return ns


def api(source: str, namespace: dict[str, Any], **options: Any) -> Report:
    return nbgrad.gradcheck(source, namespace=namespace, **options)


def run(source: str, variant: dict[str, int], *, steps: int = 10, raises: str | None = None,
        runner: Runner = api) -> Report:
    """The report of one zoo cell (its setup first); the cell's own exception must be `raises`."""
    setup, cell = zoo.split(source)
    ns = namespace(variant, setup)
    if raises is None:
        return runner(cell, ns, steps=steps, timeout=30)
    with pytest.raises(BaseException) as caught:
        runner(cell, ns, steps=steps, timeout=30)
    assert type(caught.value).__name__ == raises
    report = nbgrad.last_report()
    assert report is not None
    return report


_RUNS: dict[tuple[str, int], str] = {}  # (name, variant) -> the report's JSON


def report(name: str, variant: int = 0) -> Report:
    """A zoo cell's report through the API: run once per process, a fresh object each call."""
    if (name, variant) not in _RUNS:
        broken = zoo.BROKEN.get(name)
        source = broken.source if broken else zoo.CORRECT[name]
        _RUNS[(name, variant)] = run(source, zoo.VARIANTS[variant],
                                     steps=broken.steps if broken else 10,
                                     raises=broken.raises if broken else None).to_json()
    return Report.from_json(_RUNS[(name, variant)])
