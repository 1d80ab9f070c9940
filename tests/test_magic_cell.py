"""A %%gradcheck cell runs, and fails, as IPython runs the same cell without the magic.

Through a real InteractiveShell: IPython syntax in the cell (line magics, `!shell`, top-level
await) runs, line numbers are the cell's own, and an error's traceback names the cell as IPython
names it (`Cell In[N]`) and shows the user's frames and torch's, none of nbgrad's.
"""

from __future__ import annotations

import asyncio
import re
import sys
import traceback

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nbgrad

SETUP = ("model = nn.Linear(4, 3)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
         "x = torch.randn(8, 4)\nF = torch.nn.functional\n")
STEP = "    opt.zero_grad(); model(x).sum().backward(); opt.step()\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FRAME = re.compile(r"^(Cell In\[\d+\], line \d+|File .*)$", re.MULTILINE)


def run(shell, cell: str):
    """Run a cell as a notebook does (history on, numbered); its output with colours removed."""
    with capture_output() as shown:
        result = shell.run_cell(cell, store_history=True)
    return result, ANSI.sub("", shown.stdout + shown.stderr)


def last_traceback(shown: str) -> str:
    """The traceback of the exception raised, without those of exceptions it was raised while
    handling (IPython prints those first)."""
    return shown.split("Traceback (most recent call last)")[-1]


def test_line_magics_shell_escapes_and_top_level_await_run_in_the_cell(shell):
    run(shell, SETUP)
    cell = ("%%gradcheck --steps 2\n"
            "%time timed = 41 + 1\n"
            "listing = !echo from-the-shell\n"
            "import asyncio\n"
            "awaited = await asyncio.sleep(0.01, result='awaited')\n"
            "for i in range(10):\n" + STEP)
    result, shown = run(shell, cell)
    assert result.error_in_exec is None and result.error_before_exec is None, shown
    assert shell.user_ns["timed"] == 42
    assert list(shell.user_ns["listing"]) == ["from-the-shell"]
    assert shell.user_ns["awaited"] == "awaited"
    report = nbgrad.last_report()
    assert result.result is report and len(report.run.steps) == 2
    assert report.run.stopped_by == "steps" and shell.user_ns["i"] == 1
    assert "CPU times" in shown  # %time itself ran
    assert "SyntaxError" not in shown


def test_lines_count_as_in_the_cell_despite_magics_and_leading_blank_lines(shell):
    """IPython drops a cell's leading blank lines, and turns `%time ...` into a call: the error's
    line, the report's line and the traceback's line are still the line the user sees."""
    run(shell, SETUP)
    lines = ["%%gradcheck --steps 3", "", "", "%time z = 1", "for i in range(10):", STEP.rstrip(),
             "    if i == 1: model(torch.randn(2, 5))"]
    result, shown = run(shell, "\n".join(lines) + "\n")
    assert isinstance(result.error_in_exec, RuntimeError)
    error_line = lines.index("    if i == 1: model(torch.randn(2, 5))") + 1
    assert nbgrad.last_report().run.error.line == error_line == 7
    assert f"Cell In[{result.execution_count}], line {error_line}" in shown
    assert "----> 7     if i == 1: model(torch.randn(2, 5))" in shown


def test_top_level_await_where_an_event_loop_already_runs_is_refused_before_anything_runs(shell):
    """In a Jupyter kernel the kernel's event loop runs the cell; the magic cannot await inside
    it. Same situation: a cell run from a coroutine."""
    run(shell, SETUP)
    previous = nbgrad.last_report()

    async def in_a_running_loop():
        return shell.run_cell("%%gradcheck\nimport asyncio\nran = True\nawait asyncio.sleep(0)\n")

    with capture_output():
        result = asyncio.run(in_a_running_loop())
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec) == (
        "%%gradcheck cannot run top-level `await` here: this kernel's event loop is already "
        "running the cell, and nbgrad runs the cell to its end inside it.\n"
        "To fix it: await what the loop needs in a cell before (data = await fetch()), then check "
        "the loop; or check the script with `nbgrad check`.\n"
        "Example: nbgrad check train.py --steps 10")
    assert "ran" not in shell.user_ns and nbgrad.last_report() is previous


ERROR_CELL = ["err = ValueError(\"the user's own\")", "for i in range(10):", STEP.rstrip(),
              "    if i == 1: raise err"]


def test_a_cell_error_is_shown_as_ipython_shows_it_without_the_magic(shell):
    run(shell, SETUP)
    plain, plain_shown = run(shell, "\n".join(ERROR_CELL) + "\n")
    result, shown = run(shell, "%%gradcheck --steps 5\n" + "\n".join(ERROR_CELL) + "\n")
    error = result.error_in_exec
    assert error is shell.user_ns["err"] and type(error) is ValueError  # the same object
    assert result.execution_count == plain.execution_count + 1
    frames = FRAME.findall(last_traceback(shown))
    assert frames == [f"Cell In[{result.execution_count}], line 5"]  # the cell, line 5 of it
    assert FRAME.findall(last_traceback(plain_shown)) == [
        f"Cell In[{plain.execution_count}], line 4"]
    assert shown.endswith("ValueError: the user's own\n")
    assert "nbgrad" not in last_traceback(shown) and "run_cell_magic" not in shown
    assert shell.last_execution_succeeded is False
    # %debug and %tb read sys.last_traceback: the user's frames there too
    assert [f.f_code.co_filename for f, _ in traceback.walk_tb(sys.last_traceback)] == [
        shell.compile.cache("\n" + "\n".join(ERROR_CELL) + "\n", result.execution_count)]


@pytest.mark.parametrize(("where", "code"), [
    # inside the first step, which the probe's TorchFunctionMode watches: torch's Python functions
    # detour through handle_torch_function into nbgrad's mode
    ("functional", "    loss = F.cross_entropy(model(x), torch.full((8,), 7))"),
    # in backward(), which nbgrad wraps
    ("backward", "    model(x).sum().detach().backward()"),
])
def test_no_frame_of_nbgrad_and_no_torch_detour_in_the_traceback(shell, where, code):
    run(shell, SETUP)
    cell = ["for i in range(10):", "    opt.zero_grad()", code, "    opt.step()"]
    plain, plain_shown = run(shell, "\n".join(cell) + "\n")
    result, shown = run(shell, "%%gradcheck --steps 3\n" + "\n".join(cell) + "\n")
    assert type(result.error_in_exec) is type(plain.error_in_exec)
    assert str(result.error_in_exec) == str(plain.error_in_exec)
    shown, plain_shown = last_traceback(shown), last_traceback(plain_shown)
    files = [line for line in FRAME.findall(shown) if line.startswith("File")]
    assert files == [line for line in FRAME.findall(plain_shown) if line.startswith("File")]
    assert FRAME.findall(shown)[0] == f"Cell In[{result.execution_count}], line 4"
    assert not any("overrides.py" in line for line in files)
    assert "nbgrad" not in shown
    assert len(nbgrad.last_report().run.steps) == 0  # the error came in the first step


def test_a_magic_called_from_code_lets_the_error_propagate(shell):
    """Only the cell's own magic shows the error as the cell's; code that calls the magic gets
    the exception, as from any function."""
    run(shell, SETUP + "err = ValueError('inner')")
    result, _ = run(shell, "try:\n"
                           "    get_ipython().run_cell_magic('gradcheck', '', 'raise err')\n"
                           "except ValueError as caught:\n"
                           "    got = caught\n")
    assert result.error_in_exec is None and shell.user_ns["got"] is shell.user_ns["err"]


@pytest.mark.notebook
def test_in_a_real_kernel(tmp_path):
    """In a Jupyter kernel: the error is the cell's (numbered as the kernel numbers it, the reply
    says error, so "stop on error" stops), IPython syntax runs, and top-level await, which the
    kernel's running event loop rules out, is refused while the kernel stays usable."""
    import os
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    new = nbformat.v4.new_code_cell
    error_cell = "%%gradcheck --steps 5\n" + "\n".join(ERROR_CELL)
    nb = nbformat.v4.new_notebook(cells=[
        new("%load_ext nbgrad\nimport torch\nfrom torch import nn\n" + SETUP),
        new(error_cell),
        new("%%gradcheck --steps 2\nlisting = !echo from-the-shell\n%time t = 1\n"
            "for i in range(10):\n" + STEP),
        new("%%gradcheck\nimport asyncio\nran = True\nawait asyncio.sleep(0)"),
        new("print(listing, t, 'ran' in globals())"),
    ])
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent),
               OMP_NUM_THREADS="1")
    replies: list[str] = []
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}},
                   on_cell_executed=lambda cell, cell_index, execute_reply: replies.append(
                       execute_reply["content"]["status"])).execute(env=env)
    assert replies == ["ok", "error", "ok", "error", "ok"]
    errored = nb.cells[1]
    (error,) = [o for o in errored.outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("ValueError", "the user's own")
    shown = last_traceback(ANSI.sub("", "\n".join(error.traceback)))
    assert FRAME.findall(shown) == [f"Cell In[{errored.execution_count}], line 5"]
    assert "nbgrad" not in shown
    assert not [o for o in nb.cells[2].outputs if o.output_type == "error"]
    refused = "".join(o.get("text", "") for o in nb.cells[3].outputs)
    assert refused.startswith("UsageError: %%gradcheck cannot run top-level `await` here")
    assert nb.cells[4].outputs[0].text == "['from-the-shell'] 1 False\n"
