"""The diagnosis gallery and the README's table are generated and must stay in step."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def test_gallery_is_what_the_generator_writes_from_the_zoo():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_gallery
    finally:
        sys.path.remove(str(ROOT / "tools"))
    committed = nbformat.read(ROOT / "notebooks" / "diagnosis_gallery.ipynb", as_version=4)
    assert nbformat.writes(committed) == nbformat.writes(make_gallery.build()), (
        "notebooks/diagnosis_gallery.ipynb is stale: run `python tools/make_gallery.py`")
    readme = (ROOT / "README.md").read_text()
    assert readme == make_gallery.readme(readme), "README.md's table of diagnoses is stale: run " \
        "`python tools/make_gallery.py`"
    codes = {code for c in committed.cells for code in re.findall(r"d.code == '(NBG\d+)'", c.source)}
    families = {code[:5] for code in codes}  # NBG10, NBG20, ... NBG90
    assert len(codes) >= 40 and len(families) >= 14, sorted(codes)
