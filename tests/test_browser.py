"""What a person sees: the notebooks run in a real JupyterLab, in headless Chromium (Playwright).

One JupyterLab page serves every notebook (module fixtures). For each notebook: run all cells,
then every %%gradcheck cell must show a dashboard with its verdict, its tabs and drawn plots (each
tab clicked and checked on the first and last dashboard of a notebook), with no widget error, raw
widget repr, traceback or JavaScript error anywhere. Screenshots of every
dashboard (light theme) and of every tab of each notebook's first dashboard (light and dark) go
to test-artifacts/browser/ for a person to look at. Needs Debian's chromium at /usr/bin/chromium
(never `playwright install`).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.jupyterlab import JupyterLab

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("NBGRAD_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts" / "browser"
# the user-facing notebooks; the diagnosis gallery (generated from the test zoo, 60 cells, some of
# which raise on purpose) is executed by a real kernel in test_notebooks.py instead
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")
                   if p.name != "diagnosis_gallery.ipynb")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
WIDTH = 1300
VERDICT = re.compile(r"^[✔⚠✖] (No problems found in \d+ steps?|\d+ problems? found"
                     r"|No optimizer step was seen)")
BROKEN = ["Error displaying widget", "Tab(children=", "VBox(children=", "HBox(children=",
          "Traceback (most recent call last)", "Click to show javascript error"]

# A notebook that displays a report with hand-made diagnoses (rows, fix button) and one of a model
# with 60 long-named layers (paged tables, cut names)
CHECK_NOTEBOOK = "dashboard_rows.ipynb"
BIG_MODEL = """\
import nbgrad, torch
from torch import nn
blocks = nn.ModuleList(nn.ModuleDict({"attention_output_projection_dense_layer": nn.Linear(4, 4),
                                      "feed_forward_intermediate_dense": nn.Linear(4, 4)})
                       for _ in range(30))
opt = torch.optim.SGD(blocks.parameters(), lr=0.01)
x = torch.randn(8, 4)

def train():
    for _ in range(100):
        opt.zero_grad()
        h = x
        for b in blocks:
            h = b["attention_output_projection_dense_layer"](h)
            h = torch.relu(b["feed_forward_intermediate_dense"](h))
        h.sum().backward()
        opt.step()

nbgrad.gradcheck(train, steps=3)"""
WITH_ROWS = """\
from tests.reports import problem_report
problem_report()  # its probe recorded the tanh after body.0: the Activations tab shows"""
SLOW = """\
%%gradcheck --steps 4
import time
for i in range(100):
    time.sleep(0.6)
    opt.zero_grad()
    blocks[0]["feed_forward_intermediate_dense"](x).sum().backward()
    opt.step()"""
DATA = """\
torch.manual_seed(0)
Xs = torch.randn(256, 8)
Ys = Xs[:, :1] * 2 - Xs[:, 1:2]
net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
sgd = torch.optim.SGD(net.parameters(), lr=3.0, momentum=0.9)"""
TRY = """\
%%gradcheck
for epoch in range(100):
    for i in range(0, 256, 32):
        sgd.zero_grad()
        loss = nn.functional.mse_loss(net(Xs[i:i + 32]), Ys[i:i + 32])
        loss.backward()
        sgd.step()"""
VERIFY = """\
%%gradcheck --verify
classes = (Xs[:, :3].argmax(dim=1))
clf = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
                    nn.Linear(32, 3))
clf.eval()
adam = torch.optim.Adam(clf.parameters(), lr=1e-2)
for i in range(1000):
    loss = nn.functional.cross_entropy(clf(Xs[:64]), classes[:64])
    loss.backward()
    adam.step()"""
CHECK_CELLS = [WITH_ROWS, BIG_MODEL, "print('after')", "%load_ext nbgrad", DATA, TRY, VERIFY,
               SLOW]


def require_browser() -> None:
    """Skip with how-to-enable on a developer machine; fail in CI, where a browser is promised."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing")
    if not problems:
        return
    message = ("browser test needs " + " and ".join(problems) + ". To enable it: "
               "`apt-get install chromium` (Debian; or set NBGRAD_CHROMIUM to a Chromium binary) "
               "and `pip install -e '.[test]'`; never `playwright install`.")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    require_browser()
    root = tmp_path_factory.mktemp("notebooks")
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, root / name)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CHECK_CELLS],
                                  metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3"}})
    nbformat.write(nb, root / CHECK_NOTEBOOK)
    with JupyterLab(root) as server:
        yield server


@pytest.fixture(scope="module")
def page(lab: JupyterLab) -> Iterator[Any]:
    """One JupyterLab page for all notebooks (loading the app takes seconds)."""
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
        page.on("dialog", lambda d: (page.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(lab.url())
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=90_000)
        page.wait_for_selector(".jp-DirListing-item", timeout=90_000)
        yield page
        context.close()


class Notebook:
    """One notebook opened in the shared JupyterLab page; the console errors seen meanwhile."""

    WIDGET = ("[...window.jupyterapp.shell.widgets('main')]"
              ".find(w => w.context && w.context.path === name)")

    def __init__(self, lab: JupyterLab, page: Any, name: str) -> None:
        self.lab, self.name, self.page = lab, name, page
        page.errors.clear()
        self.errors: list[str] = page.errors
        self.command("docmanager:open", {"path": name, "factory": "Notebook"})
        page.wait_for_function(
            f"name => {{ const w = {self.WIDGET}; const s = w && w.sessionContext.session;"
            " if (!s || !s.kernel || s.kernel.status !== 'idle') return false;"
            " window.jupyterapp.shell.activateById(w.id); return true; }",
            arg=name, timeout=90_000)
        self.panel = page.locator(".jp-NotebookPanel:visible")

    def command(self, name: str, args: dict[str, Any] | None = None) -> None:
        self.page.evaluate("([n, a]) => { window.jupyterapp.commands.execute(n, a); }",
                           [name, args or {}])

    def run_all(self, timeout: float = 240.0) -> None:
        self.command("notebook:run-all-cells")
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Done when no prompt shows [*] and the kernel has been idle for a second."""
        self.page.wait_for_timeout(500)
        deadline, idle_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            busy = self.page.evaluate("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                                      ".some(e => e.textContent.includes('*'))")
            if not busy and self.lab.kernels_idle():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 1:
                    return
            else:
                idle_since = None
            time.sleep(0.25)
        raise AssertionError(f"{self.name}: cells still running after {timeout} s")

    def shoot(self, element: Any, stem: str) -> None:
        """A screenshot of the whole element: grow the window to it, scroll it to the top."""
        height = int(element.bounding_box()["height"])
        if height + 150 > self.page.viewport_size["height"]:
            self.page.set_viewport_size({"width": WIDTH, "height": min(height + 150, 9000)})
        element.evaluate("e => e.scrollIntoView({block: 'start'})")
        element.screenshot(path=str(ARTIFACTS / f"{stem}.png"))

    def close(self) -> None:
        """Shut the kernel down and close the notebook without saving (no dialog)."""
        self.page.evaluate(f"async name => {{ const w = {self.WIDGET};"
                           " await w.sessionContext.shutdown(); w.context.model.dirty = false;"
                           " w.dispose(); }", self.name)


def check_tab(notebook: Notebook, dash: Any, title: str) -> None:
    """The selected tab's page is visible and has its content; plots are drawn images."""
    expected = {"Gradients": "Layers at step", "Optimizer": "Hyperparameters, before -> after",
                "Loss": "loss (each backward call)", "Activations": "saturated fraction"}[title]
    assert dash.get_by_text(expected).filter(visible=True).count(), (notebook.name, title)
    if title in ("Gradients", "Loss", "Activations"):
        sizes = [img.evaluate("e => [e.complete && e.naturalWidth, e.getBoundingClientRect().width,"
                              " e.getBoundingClientRect().height]")
                 for img in dash.locator("img.nbgrad-figure").all() if img.is_visible()]
        assert sizes and all(w and bw > 100 and bh > 50 for w, bw, bh in sizes), (title, sizes)


def raising_cells(name: str) -> int:
    """Cells tagged raises-exception: their traceback (the user's own error) is the lesson."""
    path = REPO / "notebooks" / name
    if not path.exists():
        return 0
    nb = nbformat.read(path, as_version=4)
    return sum(1 for c in nb.cells if "raises-exception" in c.metadata.get("tags", []))


def check_page_clean(notebook: Notebook) -> None:
    page = notebook.panel
    text = page.locator(".jp-Notebook").inner_text()
    raising = raising_cells(notebook.name)
    for sign in BROKEN:
        if raising and sign == "Traceback (most recent call last)":
            continue
        assert sign not in text, f"{notebook.name}: {sign!r} on the page"
    assert page.locator(".jupyter-widgets-error-widget").count() == 0
    assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() <= raising
    assert page.locator("img[onerror]").count() == 0
    assert not page.locator(".widget-hprogress, .widget-vprogress").count()  # the bar made way
    assert notebook.errors == [], notebook.errors


def gradcheck_cells(name: str) -> int:
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%gradcheck"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_dashboards_render(lab: JupyterLab, page: Any, name: str) -> None:
    notebook = Notebook(lab, page, name)
    try:
        notebook.run_all()
        dashboards = notebook.panel.locator(".nbgrad-dashboard").all()
        assert len(dashboards) == gradcheck_cells(name)
        stem = Path(name).stem
        for i, dash in enumerate(dashboards):
            verdict = dash.locator(".nbgrad-verdict").inner_text().strip()
            assert VERDICT.match(verdict), verdict
            tabs = dash.locator(".lm-TabBar-tab").all()
            titles = [t.inner_text().strip() for t in tabs]
            assert titles[:3] == ["Gradients", "Optimizer", "Loss"], titles
            every_tab = i in (0, len(dashboards) - 1)  # all tabs of the first and last; the
            # a cell that raised before its first step (a lesson on the error) has no tables
            stepped = not dash.get_by_text("No optimizer step was recorded").count()
            for tab, title in zip(tabs, titles if every_tab else titles[:1]):  # others: Gradients
                tab.click()
                if stepped:
                    check_tab(notebook, dash, title)
                if i == 0 or title == "Gradients":  # every dashboard once, every tab of the first
                    notebook.shoot(dash, f"{stem}-{i}-{title.lower()}-light")
            tabs[0].click()
        check_page_clean(notebook)
        notebook.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
        notebook.page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
        tabs = dashboards[0].locator(".lm-TabBar-tab").all()
        for tab in tabs:
            tab.click()
            notebook.shoot(dashboards[0], f"{stem}-0-{tab.inner_text().strip().lower()}-dark")
        tabs[0].click()
        notebook.command("apputils:change-theme", {"theme": "JupyterLab Light"})
        notebook.page.wait_for_function("document.body.dataset.jpThemeLight === 'true'")
        assert notebook.errors == [], notebook.errors
    finally:
        notebook.close()


def check_progress_bar(notebook: Notebook) -> None:
    """Run all: the slow last cell shows its bar while it runs; it is gone once the run ends."""
    notebook.command("notebook:run-all-cells")
    bar = notebook.panel.locator(".widget-hprogress")
    bar.wait_for(state="visible", timeout=120_000)  # 4 steps of 0.6 s
    # the first bar seen may be the --verify cell's: its trials say which one runs
    label = re.compile(r"nbgrad: ((trying [^:]+ \(\d of \d\)(: step \d+ of 10)?|step \d+ of (4|10))"
                       r" · [\d.]+ s|waiting for the first|getting ready)")
    # the bar's label follows the bar by a render: wait for it (it fails the test if never seen)
    notebook.panel.get_by_text(label).first.wait_for(state="attached", timeout=20_000)
    notebook.wait_idle()
    assert bar.count() == 0 and notebook.panel.locator(".nbgrad-dashboard").count() == 5


def check_paged_long_names(notebook: Notebook) -> None:
    dash = notebook.panel.locator(".nbgrad-dashboard").nth(1)
    table = dash.locator(".nbgrad-table").first
    assert table.locator("tbody tr").count() == 20
    assert dash.get_by_text("rows 1-20 of 60").is_visible()
    cut = table.locator("tbody tr").first.locator("span[title]").first  # block 0's first layer,
    full = cut.get_attribute("title") or ""  # named as the cell writes it
    assert full.startswith("blocks[0]") and "attention_output_projection_dense_layer" in full
    assert cut.inner_text() != full and "…" in cut.inner_text()
    notebook.shoot(dash, "sixty-layers-light")
    dash.get_by_role("button", name="next").first.click()
    dash.get_by_text("rows 21-40 of 60").wait_for(state="visible")


def check_rows_and_fix_button(notebook: Notebook) -> None:
    dash = notebook.panel.locator(".nbgrad-dashboard").first
    assert dash.locator(".nbgrad-verdict").inner_text().strip() == "✖ 2 problems found"
    rows = dash.locator(".nbgrad-row").all()
    assert [r.locator(".nbgrad-sev").inner_text() for r in rows] == ["✖ error", "⚠ warning",
                                                                      "ℹ note"]
    first = rows[0]
    assert first.get_by_text("<img src=x onerror=alert(1)>", exact=False).first.is_visible()
    evidence = first.get_by_text("gradient norm x2.0 per step", exact=False)
    assert not evidence.is_visible()
    first.get_by_role("button", name="evidence and fix").click()
    evidence.wait_for(state="visible")
    # hand-made diagnoses, no check behind them: the fix is words and code, nothing to try
    assert first.get_by_role("button", name="Try the fix").count() == 0
    assert first.get_by_role("button", name="Put the corrected cell below").count() == 0
    tabs = dash.locator(".lm-TabBar-tab").all()
    assert [t.inner_text() for t in tabs] == ["Gradients", "Optimizer", "Loss", "Activations"]
    tabs[3].click()
    check_tab(notebook, dash, "Activations")
    notebook.shoot(dash, "activations-light")


def check_try_the_fix(notebook: Notebook) -> None:
    """"Try the fix" on a learning rate far too large: the sweep runs in the kernel (its bar in
    the row), the row shows the verdict, the rates and both runs' plots; the corrected cell is
    then offered, and added below the next cell run."""
    dash = notebook.panel.locator(".nbgrad-dashboard").nth(2)
    row = dash.locator(".nbgrad-row").first
    assert "learning rate (3) is too large" in row.inner_text()
    row.get_by_role("button", name="evidence and fix").click()
    assert row.get_by_role("button", name="Put the corrected cell below").count() == 0
    row.get_by_role("button", name="Try the fix").click()
    row.get_by_text("Tried: with lr=", exact=False).first.wait_for(state="visible", timeout=120_000)
    notebook.wait_idle()
    assert row.get_by_text("Learning rates tried for NBG403").is_visible()
    # the cells run since then left what this cell reads as the check left it
    assert row.get_by_text("your cell was run again", exact=False).count() == 0
    images = [img for img in row.locator("img.nbgrad-figure").all() if img.is_visible()]
    sizes = [img.evaluate("e => [e.complete && e.naturalWidth, e.getBoundingClientRect().width]")
             for img in images]
    assert len(sizes) == 2 and all(w and bw > 300 for w, bw in sizes), sizes  # loss, heat maps
    assert row.locator(".widget-hprogress").count() == 0  # the trial's bar made way
    notebook.shoot(row, "try-the-fix-light")
    row.get_by_role("button", name="Put the corrected cell below").click()
    row.get_by_text("A corrected copy is on its way").wait_for(state="visible")
    cells = notebook.panel.locator(".jp-Cell")
    cells_before = cells.count()
    cells.nth(2).click()  # Jupyter delivers set_next_input with the next execution
    notebook.command("notebook:run-cell")
    notebook.wait_idle()
    assert cells.count() == cells_before + 1
    added = cells.nth(3).locator(".cm-content").inner_text()
    assert "# nbgrad NBG403 lr-too-large: suggested fix" in added and "lr=3.0" not in added
    assert added.startswith("%%gradcheck --steps 10 --timeout 60")


def check_verified_dashboard(notebook: Notebook) -> None:
    """`--verify`: every fix tried at once, each alone and all together, shown in the rows."""
    dash = notebook.panel.locator(".nbgrad-dashboard").nth(3)
    assert dash.get_by_text("Fixes tried").first.is_visible()
    assert dash.get_by_text("all fixes together trains best", exact=False).first.is_visible()
    for row in dash.locator(".nbgrad-row").all():
        row.get_by_role("button", name="evidence and fix").click()
        row.get_by_text("Tried:", exact=False).first.wait_for(state="visible")
        assert row.get_by_role("button", name="Put the corrected cell below").count() == 1
    notebook.shoot(dash, "verified-fix-light")
    notebook.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
    notebook.page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
    notebook.shoot(dash, "verified-fix-dark")
    notebook.command("apputils:change-theme", {"theme": "JupyterLab Light"})
    notebook.page.wait_for_function("document.body.dataset.jpThemeLight === 'true'")


def test_progress_rows_fix_button_activations_and_paging(lab: JupyterLab, page: Any) -> None:
    """The check notebook, run once: progress bar, diagnosis rows, 60 layers, activations, a fix
    tried from its button, fixes tried with --verify."""
    notebook = Notebook(lab, page, CHECK_NOTEBOOK)
    try:
        check_progress_bar(notebook)
        check_paged_long_names(notebook)
        check_rows_and_fix_button(notebook)
        check_verified_dashboard(notebook)
        check_try_the_fix(notebook)
        check_page_clean(notebook)
    finally:
        notebook.close()


def test_without_a_browser_a_developer_skips_and_ci_fails(monkeypatch, tmp_path):
    import tests.test_browser as module

    monkeypatch.setattr(module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="To enable it: `apt-get install chromium`"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no Chromium at"):
        require_browser()
