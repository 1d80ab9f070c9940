"""What is seen without a widget frontend: static HTML (GitHub, nbviewer, nbconvert) and text."""

from __future__ import annotations

import base64
import os
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import nbgrad
from nbgrad.render.figures import FigureSet
from tests.reports import EVIL, namespace, problem_report

REPO = Path(__file__).resolve().parents[1]


class Tags(HTMLParser):
    """Every start tag with its attributes, and all text, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_static_html_escapes_user_strings_and_embeds_the_figures():
    report = problem_report()
    parsed = Tags(report.to_html())
    images = [attrs for tag, attrs in parsed.tags if tag == "img"]
    # heat map, bars of the last step, loss, activations (the probe measures the first and last
    # steps of every run): and no injected <img>
    assert len(images) == 4 and report.run.forward.activations
    for attrs in images:
        assert set(attrs) == {"class", "alt", "style", "src"}
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        width, height = png_size(base64.b64decode(src.split(",", 1)[1]))
        assert width > 300 and height > 100
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    text = "".join(parsed.text)
    assert EVIL in text  # the name arrives as text a person reads
    assert "2 problems found" in text and "line 11: loss.backward()" in text
    assert "Parameters that did not move" in text and "never got a gradient" in text


def test_long_tables_fold_their_rest_into_details():
    source = ("torch.manual_seed(0)\nmodel = nn.Sequential(*[nn.Linear(3, 3) for _ in range(40)])\n"
              "opt = torch.optim.SGD(model.parameters(), lr=0.01)\nx = torch.randn(4, 3)\n"
              "for i in range(100):\n    opt.zero_grad()\n    model(x).sum().backward()\n"
              "    opt.step()\n")
    report = nbgrad.gradcheck(source, steps=2, namespace=namespace())
    parsed = Tags(report.to_html(figures=False))
    # 2 layer tables, the param table; the advanced part and the legend are folded too
    assert [t for t, _ in parsed.tags].count("details") == 5
    text = "".join(parsed.text)
    assert text.count("15 more rows") == 2 and "55 more rows" in text  # 40 layers, 80 params


def test_figures_leave_pyplot_and_rcparams_alone():
    code = ("import sys, matplotlib, copy\n"
            # raw items: reading 'backend' through rcParams would itself import pyplot
            "snap = lambda: copy.deepcopy({k: v for k, v in dict.items(matplotlib.rcParams)\n"
            "                              if k != 'backend'})\n"
            "before = snap()\n"
            "from tests.reports import problem_report\n"
            "from nbgrad.render.figures import FigureSet\n"
            "figs = FigureSet(problem_report())\n"
            "assert figs.get('heatmap') and figs.bars(0) and figs.get('loss')\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
            "assert snap() == before, 'rcParams changed'\n"
            "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_display_with_only_text_plain_draws_no_figure(shell, monkeypatch):
    def no_figures(self):  # drawing figures for a terminal would only cost time
        raise AssertionError("figures drawn for a text-only display")

    monkeypatch.setattr(FigureSet, "html", no_figures)
    monkeypatch.setattr(shell.display_formatter, "active_types", ["text/plain"])
    report = problem_report()
    data, _ = shell.display_formatter.format(report)
    assert data == {"text/plain": report.to_text()}


TERMINAL_SESSION = """\
%load_ext nbgrad
import torch; from torch import nn; torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(16, 4); y = torch.randn(16, 1)
%%gradcheck --steps 3
for i in range(100):
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()


exit
"""


def test_terminal_ipython_prints_the_text_report():
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt",
         "--HistoryManager.enabled=False"], input=TERMINAL_SESSION, env=env, cwd=REPO,
        capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert "nbgrad: No problems found in 3 steps" in out, out + done.stderr
    assert "Gradient norm per layer:" in out and "SGD 'opt': hyperparameters:" in out
    for widget_or_html in ("<div", "<img", "application/vnd.jupyter", "VBox(", "IntProgress"):
        assert widget_or_html not in out
    assert "Traceback" not in out + done.stderr


@pytest.mark.notebook
def test_nbconvert_html_shows_the_static_report(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    cell = ("%%gradcheck --steps 3\nfor i in range(100):\n    opt.zero_grad()\n"
            f"    model[{EVIL!r}](x).sum().backward()\n    opt.step()")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext nbgrad\nimport torch\nfrom torch import nn\n"
                                  f"model = nn.ModuleDict({{{EVIL!r}: nn.Linear(3, 1)}})\n"
                                  "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                                  "x = torch.randn(8, 3)"),
        nbformat.v4.new_code_cell(cell)])
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    # JupyterLab saves no widget state by default; neither does this run
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    outputs = nb.cells[1].outputs
    result = next(o for o in outputs if o.output_type == "execute_result")
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(result.data)
    body, _ = HTMLExporter().from_notebook_node(nb)
    parsed = Tags(body)
    figures = [a for t, a in parsed.tags if t == "img" and a.get("class") == "nbgrad-figure"]
    assert len(figures) == 3
    assert not any(t == "img" and "onerror" in a for t, a in parsed.tags)
    text = "".join(parsed.text)
    assert "nbgrad: No problems found in 3 steps" in text
    assert EVIL in text
    assert "Tab(children" not in body and "Error displaying widget" not in body


MATH_NAMES = r"""
model = nn.ModuleDict({"$x^2$": nn.Linear(3, 4), r"$\nope{$": nn.Linear(4, 1)})
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 3)
for i in range(100):
    opt.zero_grad()
    model[r"$\nope{$"](torch.tanh(model["$x^2$"](x))).pow(2).mean().backward()
    opt.step()
"""


def test_layer_names_with_dollars_and_usetex_without_latex_keep_every_figure(shell, monkeypatch):
    import matplotlib

    # a session that asked for LaTeX (none is installed here) and layer names that are mathtext
    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", True)
    shell.run_cell(f"%%gradcheck --steps 3\n{MATH_NAMES}", store_history=False)
    report = nbgrad.last_report()
    figures = FigureSet(report)
    assert figures.get("heatmap") and figures.get("loss") and figures.bars(-1)
    assert figures.failures == {}
    parsed = Tags(report.to_html())
    assert len([a for t, a in parsed.tags if t == "img"]) == 4
    assert "$x^2$" in "".join(parsed.text) and r"$\nope{$" in "".join(parsed.text)
    assert matplotlib.rcParams["text.usetex"] is True  # the user's setting is left as it was


def test_a_figure_that_fails_is_left_out_with_its_reason_and_the_rest_stays(monkeypatch):
    from nbgrad.render import figures as figures_module

    def broken(report):
        raise ValueError("cannot draw <this>")

    monkeypatch.setitem(figures_module.FIGURES, "loss", ("Loss per step", broken))
    report = problem_report()
    parsed = Tags(report.to_html())
    images = [a["alt"] for t, a in parsed.tags if t == "img"]
    assert images == ["Gradient norm per layer and step", "Gradient norm per layer at the last "
                      "update", "Activation saturation and dead units"]
    text = "".join(parsed.text)
    assert "The figure loss could not be drawn (ValueError: cannot draw <this>)" in text
    assert "2 problems found" in text  # the report itself is all there


def test_warm_up_survives_a_session_that_asked_for_latex(monkeypatch):
    import matplotlib

    from nbgrad.render import figures as figures_module

    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", True)
    monkeypatch.setattr(figures_module, "_WARM", [])
    figures_module.warm_up()  # draws with matplotlib's own text renderer: nothing raised
    assert figures_module._WARM == [True]
