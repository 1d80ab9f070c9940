"""nbgrad shows user strings as text, connects to nothing and writes no file unless asked."""

from __future__ import annotations

import builtins
import os
import socket
import tempfile
from collections import OrderedDict

import pytest
import torch
from torch import nn

import nbgrad

EVIL = "<img src=x onerror=alert(1)>"


def test_html_escapes_every_user_controlled_string(check):
    ns: dict = {"OrderedDict": OrderedDict, "EVIL": EVIL}
    cell = """
Opt = type("<b>Opt</b>", (torch.optim.SGD,), {})
Boom = type("<i>Boom</i>", (Exception,), {})
model = nn.Sequential(OrderedDict([(EVIL, nn.Linear(3, 1))]))
opt = Opt(model.parameters(), lr=0.1)
for i in range(5):
    opt.zero_grad(); model(torch.randn(4, 3)).sum().backward(); opt.step()
    if i == 2: raise Boom("<script>alert(2)</script>")
"""
    with pytest.raises(Exception, match="alert"):
        check(cell, namespace=ns, steps=5)
    report = nbgrad.last_report()
    assert EVIL in report.run.layers and len(report.run.steps) == 3
    bundle = report._repr_mimebundle_()
    pages = [report.to_html()] + [v for k, v in bundle.items() if "html" in k]
    for page in pages:
        assert EVIL not in page and "<script" not in page and "<b>Opt" not in page
        assert "<img" not in page.replace('<img class="nbgrad-figure"', "")  # only our figures
        assert "<i>Boom" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert EVIL in report.to_text()  # plain text shows the name as it is


def test_no_network_connection_and_no_file_written(check, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError(f"nbgrad tried to connect: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.chdir(tmp_path)
    written: list[str] = []
    real_open = builtins.open

    def spy_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            written.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def listing() -> dict[str, list[str]]:
        return {str(d): sorted(os.listdir(d)) for d in (tmp_path, tempfile.gettempdir())}

    cell = """
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.Sigmoid(), nn.Linear(8, 1))
opt = torch.optim.Adam(model.parameters())
while True:
    opt.zero_grad(); model(torch.randn(4, 3)).pow(2).mean().backward(); opt.step()
"""
    before = listing()
    monkeypatch.setattr(builtins, "open", spy_open)
    report = check(cell, steps=3)
    shown = [report.to_text(), report.to_html(), report.to_json(), report._repr_mimebundle_()]
    monkeypatch.setattr(builtins, "open", real_open)
    assert len(report.run.steps) == 3 and all(shown)
    assert written == []
    assert listing() == before


def test_check_object_graph_is_released():
    """The report holds plain records only: the user's model is not kept alive by nbgrad."""
    import gc
    import weakref

    ns: dict = {"torch": torch, "nn": nn}
    exec("model = nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)", ns)
    ref = weakref.ref(ns["model"])
    report = nbgrad.gradcheck("while True:\n    opt.zero_grad(); model(torch.randn(2, 3)).sum()"
                              ".backward(); opt.step()", namespace=ns, steps=2)
    ns.clear()
    gc.collect()
    assert ref() is None and len(report.run.steps) == 2
