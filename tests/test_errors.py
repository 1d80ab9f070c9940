"""Errors say what to do; the user's own errors reach them unchanged; nbgrad's own never hide a cell."""

from __future__ import annotations

import traceback

import pytest
import torch

import nbgrad
from nbgrad.capture import recorder, snapshot
from nbgrad.errors import NbgradUsageError
from tests.state_tools import pictures, same

STEPS_MUST = "--steps must be a whole number of optimizer steps, at least 1"
FIX_STEPS = ("To fix it: pass how many optimizer steps to record; 10 is the default.\n"
             "Example: %%gradcheck --steps 10")
TIMEOUT_MUST = "--timeout must be a finite number of seconds above 0"
FIX_TIMEOUT = ("To fix it: pass how long to wait for an optimizer step before the run is stopped "
               "(60 is the default; a model that is slow to start may need 600).\n"
               "Example: %%gradcheck --timeout 60")
FIX_OPTIONS = ("To fix it: use only --steps N, --timeout SECONDS, --activations, --verify, --keep (see "
               "%%gradcheck? for what each does).\nExample: %%gradcheck --steps 10 --timeout 60")

MAGIC_USAGE = {
    "--steps 0": f"{STEPS_MUST} (got 0).\n" + FIX_STEPS,
    "--steps abc": f"{STEPS_MUST} (got abc).\n" + FIX_STEPS,
    "--steps 2.5": f"{STEPS_MUST} (got 2.5).\n" + FIX_STEPS,
    "--steps": "--steps needs a value.\nTo fix it: write a number after --steps.\n"
               "Example: %%gradcheck --steps 10",
    "--steps ''": f"{STEPS_MUST} (got '').\n" + FIX_STEPS,
    "--steps '3": "%%gradcheck could not read its options (no closing quotation): --steps '3\n"
                  "To fix it: close the quote, or leave quotes out: the options are plain words "
                  "and numbers.\nExample: %%gradcheck --steps 10 --timeout 60",
    "--foo": "%%gradcheck does not know --foo.\n" + FIX_OPTIONS,
    "--steps 3 extra": "%%gradcheck does not know extra.\n" + FIX_OPTIONS,
    "--keep=yes": "--keep takes no value (got yes).\nTo fix it: write --keep alone to turn it "
                  "on, or leave it out.\nExample: %%gradcheck --keep",
    "--timeout abc": f"{TIMEOUT_MUST} (got abc).\n" + FIX_TIMEOUT,
    "--timeout -1": f"{TIMEOUT_MUST} (got -1).\n" + FIX_TIMEOUT,
    "--timeout 0": f"{TIMEOUT_MUST} (got 0).\n" + FIX_TIMEOUT,
    "--timeout inf": f"{TIMEOUT_MUST} (got inf).\n" + FIX_TIMEOUT,  # every run must end
    "--timeout 1e999": f"{TIMEOUT_MUST} (got 1e999).\n" + FIX_TIMEOUT,
    "--timeout nan": f"{TIMEOUT_MUST} (got nan).\n" + FIX_TIMEOUT,
}


@pytest.mark.parametrize("line", list(MAGIC_USAGE))
def test_bad_magic_arguments_say_what_to_do(shell, line):
    from IPython.core.error import UsageError

    previous = nbgrad.last_report()
    result = shell.run_cell(f"%%gradcheck {line}\nran = True\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec) == MAGIC_USAGE[line]
    assert "ran" not in shell.user_ns and nbgrad.last_report() is previous


API_USAGE = [
    ({"steps": 0}, "steps must be a whole number of optimizer steps, at least 1 (got 0).\n"
                   "To fix it: pass how many optimizer steps to record; 10 is the default.\n"
                   "Example: nbgrad.gradcheck(cell, steps=10)"),
    ({"steps": "10"}, "steps must be a whole number of optimizer steps, at least 1 (got '10').\n"
                      "To fix it: pass how many optimizer steps to record; 10 is the default.\n"
                      "Example: nbgrad.gradcheck(cell, steps=10)"),
    ({"timeout": float("nan")}, "timeout must be a finite number of seconds above 0 (got nan).\n"
                                + FIX_TIMEOUT.replace("%%gradcheck --timeout 60",
                                                      "nbgrad.gradcheck(cell, timeout=60)")),
    ({"timeout": float("inf")}, "timeout must be a finite number of seconds above 0 (got inf).\n"
                                + FIX_TIMEOUT.replace("%%gradcheck --timeout 60",
                                                      "nbgrad.gradcheck(cell, timeout=60)")),
    ({"keep": "yes"}, "keep must be True or False (got 'yes').\n"
                      "To fix it: pass keep=True to leave the changes of the recorded steps, False "
                      "to restore.\nExample: nbgrad.gradcheck(cell, keep=True)"),
    ({"activations": 1}, "activations must be True or False (got 1).\n"
                         "To fix it: pass activations=True to record activations on every step, "
                         "False for the first and last only.\n"
                         "Example: nbgrad.gradcheck(cell, activations=True)"),
]


@pytest.mark.parametrize(("options", "message"), API_USAGE)
def test_bad_api_arguments_say_what_to_do(options, message):
    with pytest.raises(NbgradUsageError) as info:
        nbgrad.gradcheck("ran = True", namespace={}, **options)
    assert str(info.value) == message


def test_syntax_error_is_the_users_and_points_at_their_line(shell, capsys):
    result = shell.run_cell("%%gradcheck\nx = 1\ny = (\n")
    error = result.error_in_exec
    assert isinstance(error, SyntaxError) and error.lineno == 3 and error.text == "y = (\n"
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "SyntaxError" in text and "y = (" in text and "line 3" in text
    assert "nbgrad" not in text and "Traceback" not in text
    with pytest.raises(SyntaxError) as info:  # the API: the same error, same line
        nbgrad.gradcheck("x = 1\ny = (\n", namespace={})
    assert info.value.lineno == 2


@pytest.mark.parametrize(("cell", "verdict"), [
    ("", "No optimizer step was seen: the cell is empty; put your training loop under "
         "%%gradcheck."),
    ("def train():\n    pass\nclass Net:\n    pass\n",
     "No optimizer step was seen: the cell only defines functions or classes and calls none of "
     "them; call your training function in the cell, e.g. train()."),
    ("x = 1 + 1", "No optimizer step was seen: no module ran a forward pass and backward() was "
                  "never called."),
])
def test_cells_without_training_get_a_clear_report(check, cell, verdict):
    if not cell and check.entry == "magic":  # IPython answers an empty magic cell itself
        from IPython.core.error import UsageError

        with pytest.raises(UsageError) as info:
            check(cell, steps=3)
        assert str(info.value).startswith("%%gradcheck is a cell magic, but the cell body is empty")
        return
    report = check(cell, steps=3)
    assert report.verdict == verdict and report.run.stopped_by == "finished"


LOOP = """
torch.manual_seed(0)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 3)
err = ValueError("the user's own")
n = 0
for i in range(7):
    opt.zero_grad(); model(x).sum().backward(); opt.step()
    n += 1
    if i == 2: raise err
"""


def test_user_exception_reaches_them_unchanged_with_steps_before_it(check):
    ns: dict = {}
    with pytest.raises(ValueError) as info:
        check(LOOP, namespace=ns, steps=10)
    assert info.value is ns["err"]
    raise_line = LOOP.splitlines().index("    if i == 2: raise err") + 1 + check.line_offset
    frames = [(f.f_code.co_name, line) for f, line in traceback.walk_tb(info.value.__traceback__)]
    assert frames[-1] == ("<module>", raise_line)  # the traceback ends where the user raised it
    report = nbgrad.last_report()
    assert len(report.run.steps) == 3 and report.run.error.line == raise_line
    assert report.run.error.message == "the user's own"


def _broken_after(calls: int, method):
    """A recorder hook that works `calls` times, then fails like a bug in nbgrad would."""
    seen = []

    def hook(self, *args):
        seen.append(1)
        if len(seen) > calls:
            raise RuntimeError("simulated bug in nbgrad")
        return method(self, *args)

    return hook


def test_a_bug_in_nbgrad_lets_the_cell_run_on_as_without_nbgrad(check, monkeypatch):
    monkeypatch.setattr(recorder.Recorder, "on_step_post",
                        _broken_after(1, recorder.Recorder.on_step_post))
    cell = LOOP.replace("    if i == 2: raise err\n", "    time.sleep(0.1)\n")
    ns: dict = {"time": __import__("time")}
    report = check(cell, namespace=ns, steps=3, timeout=0.25)
    assert ns["n"] == 7  # all 7 iterations: no stop, no timeout
    assert report.analysis_error == "RuntimeError: simulated bug in nbgrad"
    assert report.verdict == "nbgrad could not analyse this run: RuntimeError: simulated bug in nbgrad"
    assert report.run.restore.mode == "kept"
    assert report.run.restore.reason.startswith("nbgrad failed and let the cell run on")
    assert "nbgrad could not analyse this run" in report.to_html()
    for page in (report.to_text(), report.to_html()):  # and what to do about it
        assert "run the cell without %%gradcheck" in page and "state kept:" in page
    assert report.diagnoses == []  # the records stop at the failure: no rule judges them


def test_a_bug_before_the_cell_runs_leaves_the_cell_plain(check, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("snapshot bug")

    monkeypatch.setattr(snapshot, "take", broken)
    ns: dict = {}
    report = check(LOOP.replace("    if i == 2: raise err\n", ""), namespace=ns, steps=3)
    assert ns["n"] == 7 and report.run.steps == []
    assert report.verdict == "nbgrad could not analyse this run: RuntimeError: snapshot bug"


def test_a_bug_after_the_cell_still_restores(check, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("records bug")

    monkeypatch.setattr(nbgrad.api, "build_run", broken)
    ns: dict = {}
    exec("import torch\nfrom torch import nn\n" + LOOP.split("for i")[0], ns)
    before = pictures(ns, ["model", "opt"])
    report = check("while True:\n    opt.zero_grad(); model(x).sum().backward(); opt.step()",
                   namespace=ns, steps=3)
    assert report.analysis_error == "RuntimeError: records bug"
    assert report.run.stopped_by == "steps" and report.run.restore.mode == "restored"
    assert same(before, pictures(ns, ["model", "opt"])) == []


def test_what_cannot_be_restored_is_said_and_the_rest_is_restored(check, monkeypatch):
    def broken(self):
        raise RuntimeError("cannot write")

    monkeypatch.setattr(snapshot._ModuleCopy, "restore", broken)
    ns: dict = {}
    exec("import torch\nfrom torch import nn\n" + LOOP.split("for i")[0], ns)
    before = pictures(ns, ["opt"])
    report = check("while True:\n    opt.zero_grad(); model(x).sum().backward(); opt.step()",
                   namespace=ns, steps=2)
    assert report.run.restore.failed == ["Linear: RuntimeError: cannot write"]
    assert "NOT restored: Linear: RuntimeError: cannot write" in report.to_text()
    assert same(before, pictures(ns, ["opt"])) == []
    assert torch.equal(ns["opt"].param_groups[0]["params"][0], ns["model"].weight)


def test_a_snapshot_that_would_not_fit_in_memory_is_refused_before_anything_runs(
        check, monkeypatch):
    from nbgrad.capture import budget

    ns: dict = {}
    exec("import torch\nfrom torch import nn\nmodel = nn.Linear(1000, 1000)\n"
         "opt = torch.optim.Adam(model.parameters())\n"
         "model(torch.ones(1, 1000)).sum().backward(); opt.step()", ns)  # ~16 MB of state
    monkeypatch.setattr(budget, "host_room", lambda: budget.Room(10_000_000, "MemAvailable"))
    previous = nbgrad.last_report()
    with pytest.raises(Exception) as info:  # what the cell names is copied up front
        check("ran = (model, opt)", namespace=ns, steps=2)
    assert type(info.value).__name__ in ("NbgradUsageError", "UsageError")
    assert str(info.value) == (
        "restoring your objects after the check needs a 16 MB copy in host memory; only "
        "10 MB are free under MemAvailable.\nTo fix it: free memory (del what you no longer "
        "need), or keep the changes the recorded steps make with --keep (keep=True in Python).\n"
        "Example: %%gradcheck --keep")
    assert "ran" not in ns and nbgrad.last_report() is previous
    assert check("ran = (model, opt)", namespace=ns, steps=2,
                 keep=True).run.restore.mode == "kept"
