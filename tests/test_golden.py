"""Golden text reports of a few zoo runs: the whole report, word for word, times masked.

A change to any rule's words, a table's columns or a number's format shows here as a diff a
reviewer reads. After an intended change, rewrite them with
`NBGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import zoo_runs

GOLDEN = Path(__file__).parent / "golden"
RUNS = ["classic", "gan", "no_zero_grad", "sigmoid_deep", "step_never_called", "lr_zero"]


def masked(text: str) -> str:
    """The report without what differs from run to run: wall-clock times and copy sizes' times."""
    text = re.sub(r"\d+\.\d\d s\b", "<s> s", text)
    return re.sub(r"\d+ ms\b", "<ms> ms", text)


@pytest.mark.parametrize("name", RUNS)
def test_text_report_is_the_golden_one(name):
    text = masked(zoo_runs.report(name).to_text())
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("NBGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with NBGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()
