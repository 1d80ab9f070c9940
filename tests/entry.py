"""One behaviour, two entry points: the Python API and the `%%gradcheck` magic in a real shell.

Tests take the `check` fixture and call `check(cell_source, steps=...)`; it returns the Report
(raising the cell's own exception, if any, like both entry points do).
"""

from __future__ import annotations

from typing import Any

import pytest

import nbgrad


def run_api(source: str, namespace: dict[str, Any], **options: Any) -> nbgrad.Report:
    return nbgrad.gradcheck(source, namespace=namespace, **options)


def run_magic(source: str, namespace: dict[str, Any], **options: Any) -> nbgrad.Report:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "gradcheck" not in ip.magics_manager.magics["cell"]:
        ip.run_line_magic("load_ext", "nbgrad")
    for name in [k for k in ip.user_ns if k not in ip.user_ns_hidden and not k.startswith("_")]:
        del ip.user_ns[name]  # no objects left over from another test
    ip.user_ns.update(namespace)
    flags = " ".join(f"--{k}" if v is True else f"--{k} {v}" for k, v in options.items()
                     if v is not False)
    previous = nbgrad.last_report()
    result = ip.run_cell(f"%%gradcheck {flags}\n{source}", store_history=False)
    namespace.update({k: v for k, v in ip.user_ns.items() if not k.startswith("_")})
    if result.error_before_exec is not None:
        raise result.error_before_exec
    if result.error_in_exec is not None:
        raise result.error_in_exec
    report = result.result
    assert report is nbgrad.last_report() and report is not previous
    return report


@pytest.fixture(params=["api", "magic"])
def check(request):
    """Run a cell under gradcheck through each entry point; the magic's lines are offset by one."""
    runner = run_api if request.param == "api" else run_magic

    def go(source: str, namespace: dict[str, Any] | None = None, **options: Any):
        ns = {} if namespace is None else namespace
        exec("import torch\nfrom torch import nn\nimport torch.nn.functional as F", ns)
        return runner(source, ns, **options)

    go.entry = request.param  # type: ignore[attr-defined]
    go.line_offset = 0 if request.param == "api" else 1  # type: ignore[attr-defined]
    return go
