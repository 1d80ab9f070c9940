"""Exercise mode for a training loop in a script: `with nbgrad.capture(quiz=True)`, as
`%%gradcheck --quiz` is for a cell, through the real API and a real torchrun job."""

from __future__ import annotations

import inspect
import os
import re
import subprocess

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad import options
from nbgrad.errors import NbgradUsageError


def _train_without_zero_grad(quiz: bool) -> nbgrad.capture:
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with nbgrad.capture(steps=5, quiz=quiz) as check:
        for _ in range(100):
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
    return check


def test_capture_quiz_hides_the_cause_until_revealed():
    check = _train_without_zero_grad(quiz=True)
    report = check.report
    assert report is not None and report is nbgrad.last_report()
    assert report.quiz and report.hidden
    (d,) = report.diagnoses
    assert d.code == "NBG301"  # the answer is there, only not shown
    text = report.to_text()
    assert text.startswith("nbgrad: Exercise: 1 problem to find")
    assert "[ERROR] problem 1: hidden" in text
    for cause in ("zero_grad", "accumulate", "NBG301"):
        assert cause not in text and cause not in report.to_html(figures=False), cause
    assert "Gradient norm per layer:" in text  # the symptoms stay
    assert nbgrad.reveal() is report and not report.hidden
    shown = report.to_text()
    assert shown.startswith("nbgrad: 1 problem found: Gradients accumulate across steps: "
                            "zero_grad() is missing")
    assert "symptom:" not in shown


def test_capture_without_quiz_shows_the_cause():
    report = _train_without_zero_grad(quiz=False).report
    assert report is not None and not report.quiz and not report.hidden
    assert "zero_grad() is missing" in report.to_text()


def test_capture_takes_the_declared_options_and_checks_them_alike():
    parameters = inspect.signature(nbgrad.capture).parameters
    offered = [o.name for o in options.on("api") if o.name in parameters]
    assert offered == ["steps", "timeout", "activations", "quiz", "keep"]
    assert {name: parameters[name].default for name in offered if name != "timeout"} == \
        {name: options.DEFAULTS[name] for name in offered if name != "timeout"}
    with pytest.raises(NbgradUsageError) as info:
        nbgrad.capture(quiz="yes")
    assert str(info.value) == ("quiz must be True or False (got 'yes').\n"
                               "To fix it: pass quiz=True to hide the causes until revealed, "
                               "False to show them.\n"
                               "Example: nbgrad.gradcheck(cell, quiz=True)")


@pytest.mark.slow
def test_capture_quiz_inside_torchrun_keeps_the_merged_report_an_exercise(tmp_path):
    from tests.test_distributed import CAPTURE, PYTHON, ROOT, _leftovers, free_port

    script = tmp_path / "quiz_job.py"
    script.write_text(CAPTURE.replace("nbgrad.capture(steps=10, timeout=60)",
                                      "nbgrad.capture(steps=10, timeout=60, quiz=True)")
                      .replace("        opt.zero_grad(); ", "        ")
                      .replace("[d.code for d in check.report.diagnoses])",
                               "[d.code for d in check.report.diagnoses], check.report.hidden)"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    done = subprocess.run([PYTHON, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                           str(script)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(re.findall(r"^RANK .*$", done.stdout, re.MULTILINE))
    assert lines[0] == "RANK 0 2 [3, 3] ['NBG301'] True"  # merged on rank 0, still an exercise
    assert _leftovers(str(script)) == []
