"""The classroom in a real JupyterLab (headless Chromium): an exercise (`--quiz`) shows symptoms and
hides the cause, its Hint button gives one hint per click, `nbgrad.reveal()` in the next cell turns
the dashboard above into the answer in place, and `nbgrad.compare()` shows the before/after card.

Screenshots of each stage go to test-artifacts/browser/classroom-*.png for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from tests.jupyterlab import JupyterLab
from tests.test_browser import ARGS, ARTIFACTS, CHROMIUM, WIDTH, Notebook, require_browser

pytestmark = pytest.mark.browser

LESSON = "lesson.ipynb"
CELLS = [
    """%load_ext nbgrad
import nbgrad, torch
from torch import nn
torch.manual_seed(0)
x = torch.randn(64, 10)
y = (x[:, :1] - 2 * x[:, 1:2]).tanh()
loss_fn = nn.MSELoss()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)""",
    """%%gradcheck --quiz --verify
for epoch in range(100):
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()""",
    "r = nbgrad.reveal()",
    "nbgrad.compare(r)",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    require_browser()
    root = tmp_path_factory.mktemp("lesson")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
                                  metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3"}})
    nbformat.write(nb, root / LESSON)
    with JupyterLab(root) as server:
        yield server


@pytest.fixture(scope="module")
def page(lab: JupyterLab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(lab.tmp / "chromium-profile"), executable_path=str(CHROMIUM), args=ARGS,
            headless=True, viewport={"width": WIDTH, "height": 2400})
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
        page.goto(lab.url())
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started",
                               timeout=90_000)
        page.wait_for_selector(".jp-DirListing-item", timeout=90_000)
        yield page
        context.close()


def run_cell(notebook: Notebook, index: int) -> None:
    notebook.panel.locator(".jp-Cell").nth(index).click()
    notebook.command("notebook:run-cell")
    notebook.wait_idle(180)


def test_quiz_hints_reveal_and_card(lab: JupyterLab, page: Any) -> None:
    notebook = Notebook(lab, page, LESSON)
    try:
        run_cell(notebook, 0)
        run_cell(notebook, 1)
        dash = notebook.panel.locator(".nbgrad-dashboard").first
        verdict = dash.locator(".nbgrad-verdict").inner_text().strip()
        assert verdict == "✖ Exercise: 1 problem to find"
        shown = dash.inner_text()
        assert "symptom: the loss fell from 0.7204 to 0.3494 over 10 steps" in shown
        assert "zero_grad" not in shown and "accumulate" not in shown  # the cause stays hidden
        assert dash.get_by_text("Problem 1: what do the symptoms say?").is_visible()
        notebook.shoot(dash, "classroom-quiz")
        hint = dash.get_by_role("button", name="Hint 1 of 3")
        hint.click()
        dash.get_by_text("Hint 1: It is about clearing gradients and calling step().").wait_for()
        dash.get_by_role("button", name="Hint 2 of 3").click()
        dash.get_by_text("Hint 2: Look at line 4", exact=False).wait_for()
        assert dash.get_by_text("Hint 3:", exact=False).count() == 0  # one hint per click
        notebook.shoot(dash, "classroom-quiz-hints")
        # the teacher reveals: the dashboard above becomes the answer, in place
        run_cell(notebook, 2)
        dash.get_by_text("Gradients accumulate across steps", exact=False).first.wait_for()
        assert dash.locator(".nbgrad-verdict").inner_text().strip() == "✖ 1 problem found"
        assert dash.get_by_text("backward() adds the new gradient to the old one",
                                exact=False).first.is_visible()  # why it matters, not folded
        row = dash.locator(".nbgrad-row").first
        row.get_by_role("button", name="evidence and fix").click()
        row.get_by_text("Tried:", exact=False).first.wait_for(state="visible")
        notebook.shoot(dash, "classroom-reveal")
        # the card for the projector
        run_cell(notebook, 3)
        card = notebook.panel.locator(".nbgrad-card").first
        card.wait_for(state="visible")
        text = card.inner_text()
        for label in ("SYMPTOM", "CAUSE", "FIX", "RESULT"):
            assert label in text.upper()
        assert "✔ fixed" in text and "the problem is gone" in text
        size = card.locator("img").evaluate("e => [e.naturalWidth, e.getBoundingClientRect().width]")
        assert size[0] > 500 and size[1] > 500, size
        font = card.evaluate("e => getComputedStyle(e).fontSize")
        assert font == "22px"
        notebook.shoot(card, "classroom-card")
        assert notebook.panel.locator(".jupyter-widgets-error-widget").count() == 0
        assert notebook.errors == [], notebook.errors
    finally:
        notebook.close()
