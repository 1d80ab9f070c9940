"""The correct-loop controls of benchmarks/diagnosis/cases/correct/: every case file is well formed,
and a quick subset runs through nbgrad to a clean report and trains when run plain.

The full set runs with `python benchmarks/diagnosis/run_correct.py` (minutes); this file is the CI
part: the format of every case, and five cases chosen for what they exercise (a hand-written SGD on
raw tensors under no_grad, DQN with a target net and no step until its replay memory fills, LBFGS
with a closure in float64, a weight-tied GPT with AdamW groups and a warm-up, a zero-initialised
table with -1 padded targets).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

HERE = Path(__file__).resolve().parents[1] / "benchmarks" / "diagnosis"
CASES = sorted((HERE / "cases" / "correct").glob("*.py"))
QUICK = ["d2l_linear_regression_scratch", "tut_dqn", "ex_time_sequence_prediction",
         "nanogpt_shakespeare_char", "makemore_bigram"]

# what a cell may not touch: the network, and the packages this environment does not have
NETWORK_NAMES = {"requests", "urllib", "urlretrieve", "wget", "http", "socket", "hub", "from_pretrained",
                 "load_dataset", "snapshot_download", "hf_hub_download"}
MISSING_PACKAGES = {"torchvision", "torchaudio", "torchtext", "sklearn", "datasets", "gymnasium", "gym"}


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("run_correct", HERE / "run_correct.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_correct"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("run_correct", None)


def test_there_are_enough_controls():
    assert len(CASES) >= 45
    assert {p.stem for p in CASES} >= set(QUICK)
    prefixes = {p.stem.split("_")[0] for p in CASES}
    assert {"ex", "tut", "d2l", "nanogpt", "makemore"} <= prefixes


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_file_is_well_formed(runner, path):
    case = runner.load_case(path)
    url = urlparse(case.source)
    assert url.scheme == "https" and url.netloc and url.path not in ("", "/"), case.source
    assert case.program.strip() and "\n" not in case.program
    assert case.summary and "\n" not in case.summary, "the docstring is one line"
    assert isinstance(case.steps, int) and case.steps >= 1
    tree = ast.parse(case.cell, filename=case.id)  # raises on a cell that does not compile
    compile(tree, case.id, "exec")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for alias in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert not (names | imported) & NETWORK_NAMES, "a cell must not download anything"
    assert not imported & MISSING_PACKAGES, "synthetic data only: that package is not installed"
    keywords = {k.arg: k.value for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords}
    download = keywords.get("download")
    assert not (isinstance(download, ast.Constant) and download.value), "download=True"
    for module in imported:
        assert importlib.util.find_spec(module) is not None, f"{module} is not installed"


@pytest.mark.parametrize("name", QUICK)
def test_quick_control_trains_and_comes_out_clean(runner, name):
    """In a subprocess, as the runner does: a check can leave the process changed (see below)."""
    case = HERE / "cases" / "correct" / f"{name}.py"
    result = runner.run_in_subprocess(case, plain_steps=12, timeout=300)
    assert "crash" not in result, result.get("crash")
    plain, found = result["plain"], result["nbgrad"]
    assert plain["error"] is None
    assert plain["updates"] == 12
    assert plain["falls"], plain["losses"]
    assert found["analysis_error"] is None, found["failure_traceback"]
    assert found["cell_error"] is None
    assert found["stopped_by"] == "steps"
    assert found["steps_recorded"] >= result["steps"]
    assert found["problems"] == [], found["problems"]


STOP_INSIDE_WITH = '''
import sys, torch, nbgrad
cell = """
import torch
w = torch.zeros(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
for i in range(100):
    loss = ((w - 1) ** 2).sum()
    opt.zero_grad()
    with torch.no_grad():
        loss.backward()
        opt.step()
"""
report = nbgrad.gradcheck(cell, steps=3, namespace={"__name__": "__main__"})
print(report.run.stopped_by, torch.is_grad_enabled(), sys.exc_info()[0] is None)
'''


def test_a_stop_inside_a_with_block_leaves_the_process_as_it_was():
    """d2l's Trainer runs backward and step inside torch.no_grad(): after the stop, grad mode is
    back on and no StopRun is left in sys.exc_info() as the context of the next exception."""
    done = subprocess.run([sys.executable, "-c", STOP_INSIDE_WITH], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["steps", "True", "True"]


def test_plain_check_tells_a_loop_that_learns_from_one_that_does_not(runner):
    cell = """
import torch
torch.manual_seed(0)
w = torch.zeros(3, requires_grad=True)
x = torch.randn(64, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5])
opt = torch.optim.SGD([w], lr=LR)
for _ in range(100):
    opt.zero_grad()
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    opt.step()
"""
    learns = runner.Case("learns", "https://example.org/x", "x", cell.replace("LR", "0.1"), 10, "x")
    frozen = runner.Case("frozen", "https://example.org/x", "x", cell.replace("LR", "0.0"), 10, "x")
    moving, still = runner.train_plain(learns, 12), runner.train_plain(frozen, 12)
    assert moving["updates"] == still["updates"] == 12  # stopped after the requested steps
    assert moving["falls"] and moving["loss_last"] < moving["loss_first"] / 2
    assert not still["falls"] and still["loss_last"] == pytest.approx(still["loss_first"])


def test_plain_check_counts_backward_calls_of_a_loop_without_optimizer(runner):
    cell = """
import torch
w = torch.zeros(2, requires_grad=True)
for _ in range(1000):
    loss = ((w - torch.tensor([1.0, 2.0])) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad = None
"""
    result = runner.train_plain(runner.Case("manual", "https://example.org/x", "x", cell, 10, "x"), 7)
    assert result["optimizer_steps"] == 0
    assert result["updates"] == 7
    assert result["losses"][0] == pytest.approx(5.0)
    assert result["losses"][1] == pytest.approx(5.0 * 0.8 ** 2)


def test_a_crashing_case_is_reported_and_the_batch_goes_on(runner, tmp_path):
    crash = tmp_path / "crash.py"
    crash.write_text('"""x"""\nSOURCE = "https://example.org/x"\nPROGRAM = "x"\n'
                     "CELL = 'import os\\nos._exit(3)'\n")
    result = runner.run_in_subprocess(crash, plain_steps=5, timeout=120)
    assert result["id"] == "crash"
    assert result["crash"].startswith("exit 3")
