"""`nbgrad check` / `nbgrad show` as a user and a CI pipeline run them.

The main paths run in real subprocesses (`python -m nbgrad ...`); the many usage errors call the same
`main()` in this process, which saves a torch import per case.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nbgrad
from nbgrad.cli import main
from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
from nbgrad.diagnose.rules import RULES

ROOT = Path(__file__).resolve().parent.parent

TRAIN = """
import argparse
import torch
from torch import nn

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    print("script argv:", args.lr)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    x = torch.randn(16, 4); y = torch.randn(16, 1)
    for epoch in range(10**6):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

if __name__ == "__main__":
    main()
"""


def nbgrad_cli(*args: str, cwd: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m nbgrad ARGS` in a fresh interpreter (with `prelude` run first, when given)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("CI", None)
    if prelude:
        command = [sys.executable, "-c", prelude + "\nfrom nbgrad.cli import main\n"
                   "import sys\nsys.exit(main(sys.argv[1:]))", *args]
    else:
        command = [sys.executable, "-m", "nbgrad", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def train(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    return path


def test_check_runs_the_script_stops_it_and_saves_a_report(train, tmp_path):
    done = nbgrad_cli("check", "train.py", "--steps", "3", "--json", "out.json", "--html",
                      "out.html", "--", "--lr", "0.05", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("script argv: 0.05\nnbgrad: No problems found in 3 steps\n")
    assert "nbgrad: step 1/3\nnbgrad: step 2/3\nnbgrad: step 3/3\n" in done.stderr
    assert "Traceback" not in done.stderr
    report = nbgrad.Report.from_json((tmp_path / "out.json").read_text())
    run = report.run
    assert len(run.steps) == 3 and run.stopped_by == "steps"
    assert [s.lr for s in run.steps] == [[0.05]] * 3  # the arguments after -- reached the script
    assert run.optimizers[0].name == "opt"  # named from main()'s locals
    assert list(run.layers) == ["0", "2"]
    step_line = TRAIN.splitlines().index("        opt.step()") + 1
    assert {e.line for e in run.events if e.kind == "step"} == {step_line}
    assert done.stdout.endswith(report.to_text())
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!doctype html>") and "No problems found in 3 steps" in page

    shown = nbgrad_cli("show", "out.json", "--html", "again.html", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == report.to_text()
    assert (tmp_path / "again.html").read_text() == page
    bundle = nbgrad.Report.from_json((tmp_path / "out.json").read_text())._repr_mimebundle_()
    assert bundle["text/plain"] == report.to_text()  # what a notebook shows for the saved report
    assert "No problems found in 3 steps" in bundle["text/html"]


def test_error_level_diagnosis_exits_1(train, tmp_path):
    # A rule that always finds an error, registered in the subprocess: the exit status follows the
    # diagnoses, whichever rule produced them.
    prelude = textwrap.dedent("""
        from nbgrad.diagnose.diagnosis import Diagnosis, Evidence
        from nbgrad.diagnose.rules import RULES
        RULES.append(lambda run: [Diagnosis("NBG999", "test-error", "error", "Test error",
                                            [Evidence(f"{len(run.steps)} steps")], "why", "fix")])
    """)
    done = nbgrad_cli("check", "train.py", "--steps", "2", cwd=tmp_path, prelude=prelude)
    assert done.returncode == 1, done.stderr
    assert "[ERROR NBG999 test-error] Test error" in done.stdout
    assert "evidence: 2 steps" in done.stdout


def test_warnings_alone_exit_0(train, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rule = lambda run: [Diagnosis("NBG998", "test-warning", "warning", "Test warning",  # noqa: E731
                                  [Evidence("measured")], "why", "fix")]
    RULES.append(rule)
    try:
        status = main(["check", "train.py", "--steps", "2"])
    finally:
        RULES.remove(rule)
    assert status == 0
    assert "[WARNING NBG998 test-warning] Test warning" in capsys.readouterr().out


def test_script_that_raises_exits_1_with_its_traceback_and_the_steps_before(tmp_path):
    script = TRAIN.replace("        opt.step()\n", "        opt.step()\n"
                           "        if epoch == 1: raise RuntimeError('data ran out')\n")
    (tmp_path / "broken.py").write_text(script)
    done = nbgrad_cli("check", "broken.py", "--json", "out.json", cwd=tmp_path)
    assert done.returncode == 1
    assert "RuntimeError: data ran out" in done.stderr
    assert f'File "{tmp_path / "broken.py"}", line' in done.stderr  # the script's own frames
    assert "nbgrad/cli.py" not in done.stderr
    run = nbgrad.Report.from_json((tmp_path / "out.json").read_text()).run
    assert len(run.steps) == 2 and run.error.type == "RuntimeError"


def test_the_scripts_traceback_has_no_frame_of_nbgrad(tmp_path, monkeypatch, capsys):
    """The first step runs under nbgrad's TorchFunctionMode, the error inside torch's
    cross_entropy: the traceback reads as without nbgrad (script, then torch's function)."""
    (tmp_path / "labels.py").write_text(textwrap.dedent("""
        import torch
        model = torch.nn.Linear(4, 3)
        logits = model(torch.randn(2, 4))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 7]))
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["check", "labels.py"]) == 1
    err = capsys.readouterr().err
    files = re.findall(r'^  File "([^"]+)", line \d+, in (\S+)$', err, re.MULTILINE)
    assert files == [(str(tmp_path / "labels.py"), "<module>"),
                     (sys.modules["torch.nn.functional"].__file__, "cross_entropy")]
    assert err.rstrip().endswith("IndexError: Target 7 is out of bounds.")


def test_script_without_steps_ends_at_the_timeout_and_says_what_it_saw(tmp_path, monkeypatch,
                                                                     capsys):
    (tmp_path / "idle.py").write_text(textwrap.dedent("""
        import sys, torch
        model = torch.nn.Linear(3, 1)
        while True:
            model(torch.randn(4, 3)).sum().backward()
    """))
    monkeypatch.chdir(tmp_path)
    argv, path = list(sys.argv), list(sys.path)
    assert main(["check", "idle.py", "--timeout", "0.5"]) == 1  # NBG305 is an error
    out = capsys.readouterr().out
    assert out.startswith("nbgrad: 1 problem found: optimizer.step() is never called")
    assert "stopped: no optimizer step within the timeout" in out
    assert (sys.argv, sys.path) == (argv, path)  # the script's argv and path are undone


@pytest.mark.parametrize(("args", "problem", "fix"), [
    ([], "nbgrad: no command given.", "run `nbgrad check SCRIPT`"),
    (["check", "missing.py"], "nbgrad check: there is no file 'missing.py'.", "pass the path"),
    (["check", "train.py", "--steps", "0"],
     "nbgrad check: --steps must be a whole number of optimizer steps, at least 1 (got 0).",
     "10 is the default"),
    (["check", "train.py", "--lr", "0.1"], "unrecognized arguments: --lr 0.1.", "go after `--`"),
    (["check", "train.py", "--steps", "ten"],
     "nbgrad check: --steps must be a whole number of optimizer steps, at least 1 (got ten).",
     "10 is the default"),
    (["check", "train.py", "--timeout", "inf"],
     "nbgrad check: --timeout must be a finite number of seconds above 0 (got inf).",
     "a model that is slow to start may need 600"),
    (["check", "train.py", "--timeout"], "argument --timeout: expected one argument.", "--help"),
    (["show", "missing.json"], "nbgrad show: cannot read 'missing.json'", "nbgrad check --json"),
    (["show", "train.py"], "nbgrad show: 'train.py' is not an nbgrad report", "report.to_json()"),
])
def test_usage_errors_exit_2_and_say_what_to_do(train, tmp_path, monkeypatch, capsys, args,
                                                 problem, fix):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert problem in lines[0]
    assert lines[1].startswith("To fix it: ") and fix in lines[1]
    assert lines[2].startswith("Example: nbgrad ")


@pytest.mark.parametrize(("flag", "path", "reason"), [
    ("--json", "/bad/path", "there is no folder '/bad'"),
    ("--json", "no/such/folder/out.json", "there is no folder '{tmp}/no/such/folder'"),
    ("--html", ".", "it is a folder"),
])
def test_a_report_path_that_cannot_be_written_is_refused_before_the_script_runs(
        tmp_path, monkeypatch, capsys, flag, path, reason):
    (tmp_path / "marks.py").write_text("open('ran', 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "marks.py", flag, path]) == 2
    assert not (tmp_path / "ran").exists()  # found before the script ran, not after it
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"nbgrad check: cannot write {flag} {path} ({reason.format(tmp=tmp_path)}).\n"
                   f"To fix it: pass a path in a folder you can write to after {flag}.\n"
                   "Example: nbgrad check train.py --steps 10 --json report.json -- --lr 0.1\n")
    report = tmp_path / "report.json"
    report.write_text(nbgrad.gradcheck("x = 1", namespace={}, steps=1).to_json())
    assert main(["show", "report.json", "--html", "/bad/page.html"]) == 2
    assert capsys.readouterr().err.startswith(
        "nbgrad show: cannot write --html /bad/page.html (there is no folder '/bad').\n")


def test_activations_option_reaches_the_run(train, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for flags, every_step in (([], False), (["--activations"], True)):
        assert main(["check", "train.py", "--steps", "3", "--json", "out.json", *flags]) == 0
        run = nbgrad.Report.from_json((tmp_path / "out.json").read_text()).run
        assert (len(run.steps), run.forward.every_step) == (3, every_step)


def test_python_dash_m_nbgrad_without_a_command_exits_2(tmp_path):
    done = nbgrad_cli(cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == "nbgrad: no command given."


def test_installed_nbgrad_command_runs_the_same_main(tmp_path):
    script = Path(sys.executable).parent / "nbgrad"
    if not script.exists():
        pytest.skip(f"no console script at {script}: nbgrad is not pip-installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(script), "--version"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"nbgrad {nbgrad.__version__}\n")
