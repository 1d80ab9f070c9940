"""The notebooks in notebooks/, executed top to bottom by a real kernel; their assert cells run too.

Each %%gradcheck cell must leave one result carrying the widget view, the static HTML and the text.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
BUNDLE = {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"}


def test_notebooks_are_saved_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_asserts_hold(path: Path, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # raises CellExecutionError, with the cell, when an assert fails
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%gradcheck")]
    assert checks, "a notebook without a %%gradcheck cell"
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            # the user's own exception, shown after the report of the steps before it
            shown = [o for o in cell.outputs
                     if o.output_type == "display_data" and set(o.data) >= BUNDLE]
            assert len(errors) == 1 and len(shown) == 1, cell.source
            continue
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1 and set(results[0].data) >= BUNDLE, cell.source
        assert not errors
