"""Beginner cells as a student writes them, run in a real IPython shell: each gets words a
first-year student can act on, in the student's own names, at the right line."""

from __future__ import annotations

import pytest

import nbgrad
from tests.rendered import text_tables

DATA = """
torch.manual_seed(0)
X = torch.rand(384, 1, 28, 28)
Y = torch.randint(0, 3, (384,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=32)
"""

DEEP_SIGMOID = """%%gradcheck --steps 10
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(),
                      nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(),
                      nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    print("epoch", epoch, loss.item())
"""


def run(shell, cell: str) -> nbgrad.Report:
    shell.run_cell(DATA, store_history=False)
    shell.run_cell(cell, store_history=False)
    report = nbgrad.last_report()
    assert report is not None
    return report


def test_a_sequential_is_named_as_the_student_indexes_it(shell):
    report = run(shell, DEEP_SIGMOID)
    (d,) = [d for d in report.diagnoses if d.code == "NBG501"]
    assert d.title.startswith("Vanishing gradients: 'model[1]' gets ")
    assert d.title.endswith("smaller gradients per weight than 'model[11]'")
    assert "'1'" not in report.to_text() and "'11'" not in report.to_text()
    rows = [line.split()[0] for line in report.to_text().split("Gradient norm per layer:\n")[1]
            .splitlines()[1:6]]
    assert rows == ["model[1]", "model[3]", "model[5]", "model[7]", "model[9]"]
    assert d.layers == ["1", "11"]  # the records keep their stable keys; only the words change


def test_a_module_attribute_is_named_model_dot_fc1(shell):
    shell.run_cell("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))
""", store_history=False)
    report = run(shell, """%%gradcheck --steps 3
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for xb, yb in loader:
    opt.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    opt.step()
""")
    table = report.to_text().split("Layers at step 2:\n")[1].splitlines()
    assert [line.split()[0] for line in table[1:3]] == ["model.fc1", "model.fc2"]
    assert report.run.written == {"fc1": "model.fc1", "fc2": "model.fc2",
                                  "fc1.weight": "model.fc1.weight", "fc1.bias": "model.fc1.bias",
                                  "fc2.weight": "model.fc2.weight", "fc2.bias": "model.fc2.bias"}


def test_the_parameters_of_a_model_the_cell_re_created_are_named_as_the_old_model(shell):
    shell.run_cell(DATA + "model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), "
                          "nn.Linear(16, 3))", store_history=False)
    report = run(shell, """%%gradcheck --steps 5
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
for xb, yb in loader:
    opt.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    opt.step()
""")
    text = report.to_text()
    assert "optimizer0.group0" not in text
    unmoved = text_tables(text)["Parameters that did not move"]
    assert ["model[1].weight (old)", "model[1] (old)", "a parameter of the model 'model' held "
            "before line 3 re-created it: the optimizer holds the old model, the loss uses the "
            "new one"] in unmoved
    assert ["model[1].weight", "model[1]", "not in any optimizer"] in unmoved
    grads = text_tables(text)["Gradient norm per layer"]
    assert [row[0] for row in grads[1:4]] == ["model[1]", "model[1] (old)", "model[3] (old)"]
    (d,) = [d for d in report.diagnoses if d.code == "NBG201"]
    assert "model[1].weight, model[1].bias got gradients" in d.evidence[0].text


def test_a_model_no_name_holds_is_named_by_its_optimizer(shell):
    shell.run_cell(DATA + "old = nn.Linear(784, 3)\nopt = torch.optim.SGD(old.parameters(), "
                          "lr=0.1)\ndel old\nmodel = nn.Sequential(nn.Flatten(), "
                          "nn.Linear(784, 3))", store_history=False)
    report = run(shell, """%%gradcheck --steps 3
for xb, yb in loader:
    opt.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    opt.step()
""")
    names = set(report.run.params)
    assert {"opt's param 0 (not in a named model)", "opt's param 1 (not in a named model)"} \
        <= names


def test_a_loop_stopped_in_its_first_epoch_says_why_the_epoch_print_is_missing(shell, capsys):
    report = run(shell, DEEP_SIGMOID)
    assert "epoch 0" not in capsys.readouterr().out  # the student's print never ran
    (d,) = [d for d in report.diagnoses if d.code == "NBG001"]
    assert d.severity == "info" and d.line == 12  # the print after the inner loop
    assert d.title == ("The check stopped the loop mid-epoch (10 steps of 12 batches): the code "
                       "after the inner loop did not run")
    assert d.evidence[0].text == ("the loop `for xb, yb in loader:` (line 7) goes over 12 items "
                                  "(len(loader) = 12); the check stopped it after 10 optimizer "
                                  "steps, as --steps asked")
    assert d.evidence[1].text.startswith("line 12 `print(\"epoch\", epoch, loss.item())` comes "
                                         "after the inner loop and never ran")
    assert "%%gradcheck --steps 12" in d.fix
    assert report.problems == [d for d in report.diagnoses if d.code == "NBG501"]  # a note only


def test_a_whole_epoch_gets_no_note(shell, capsys):
    report = run(shell, DEEP_SIGMOID.replace("--steps 10", "--steps 13"))
    assert "epoch 0" in capsys.readouterr().out  # the first epoch ended, the print ran
    assert "NBG001" not in [d.code for d in report.diagnoses]


MSE_ON_LABELS = """%%gradcheck
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for xb, yb in loader:
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(xb), yb)
    loss.backward()
    opt.step()
"""


def test_a_loss_shape_crash_is_explained_beside_the_traceback_with_torchs_warning(shell, capsys):
    shell.run_cell(DATA, store_history=False)
    result = shell.run_cell(MSE_ON_LABELS, store_history=False)
    shown = capsys.readouterr()
    assert isinstance(result.error_in_exec, RuntimeError)  # the student's error, unchanged
    out = shown.out
    # the traceback (as IPython shows it) and the report beside it
    assert "RuntimeError" in out and "must match the size of tensor b (32)" in out
    report = nbgrad.last_report()
    (d,) = report.diagnoses  # the labels are the cause; the shape crash is folded under it
    assert (d.code, d.line) == ("NBG814", 6)
    assert "3 outputs per sample against one label each" in d.title
    texts = [e.text for e in d.evidence]
    assert any(t.startswith("torch warned") and "Using a target size (torch.Size([32])) that is "
               "different to the input size (torch.Size([32, 3]))" in t for t in texts)
    assert ("and so: the loss got 3 outputs per sample but one class label each: mse_loss "
            "compares numbers, cross_entropy compares classes") in texts
    assert "the targets are whole numbers from 0 to 2: class labels for the model's 3 outputs" in texts
    assert d.fix_code == "loss = nn.functional.cross_entropy(model(xb), yb)"
    assert "[ERROR NBG814" in out and "torch warned" in out


def test_a_regression_shape_crash_says_to_make_the_shapes_match(shell, capsys):
    shell.run_cell(DATA + "T = torch.randn(384, 2)\nreg = torch.utils.data.DataLoader("
                          "torch.utils.data.TensorDataset(X, T), batch_size=32)",
                   store_history=False)
    shell.run_cell(MSE_ON_LABELS.replace("loader", "reg"), store_history=False)
    capsys.readouterr()
    (d,) = nbgrad.last_report().diagnoses
    assert d.code == "NBG911" and d.fix_code is None
    assert d.title == "The loss got outputs of shape (32, 3) but targets of shape (32, 2)"
    assert "Make the model's output and the targets the same shape" in d.fix


@pytest.fixture(autouse=True)
def _quiet(capsys):
    """The cells print their epochs; the tests read the reports."""
    yield
    capsys.readouterr()


VANISHING = DEEP_SIGMOID.replace("%%gradcheck --steps 10", "%%gradcheck --steps 10 --quiz")


def test_quiz_shows_the_symptoms_and_hides_the_cause_until_revealed(shell, capsys):
    report = run(shell, VANISHING)
    shown = capsys.readouterr().out  # what the terminal shell displayed: the text report
    assert report.quiz and report.hidden
    assert "Exercise: 1 problem to find. The causes are hidden" in shown
    grads = report.run.steps[0].layers
    assert "symptom: the loss fell from 1.115 to 1.071 over 10 steps" in shown
    assert (grads["1"].grad_norm, grads["11"].grad_norm) == pytest.approx((1.28e-04, 0.5905),
                                                                          rel=1e-3)
    assert "symptom: at step 0 the layers' gradient norms go from 1.28e-04 (model[1]) to 0.5905 " \
           "(model[11]), 4617x apart" in shown
    assert "[WARNING] problem 1: hidden" in shown
    for cause in ("anishing", "Use ReLU", "NBG501", "vanishing-gradients"):  # no cause, no fix
        assert cause not in shown and cause not in report.to_html(figures=False), cause
    assert "Gradient norm per layer:" in shown  # the symptoms' tables stay
    # the JSON keeps it an exercise
    assert nbgrad.Report.from_json(report.to_json()).hidden
    # the teacher reveals the last check's answer
    answer = nbgrad.reveal()
    assert answer is report and not report.hidden
    text = answer.to_text()
    assert text.startswith("nbgrad: 1 problem found: Vanishing gradients: 'model[1]' gets ")
    assert "    fix: Use ReLU" in text and "symptom:" not in text


def test_the_quiz_dashboard_gives_hints_one_at_a_time_and_reveals_in_place(shell):
    from nbgrad.render.widget import Dashboard
    from tests.rendered import NoFigures

    report = run(shell, VANISHING)
    dash = Dashboard(report, NoFigures(report))
    assert "Exercise: 1 problem to find" in dash.verdict.value
    (row,) = dash.quiz.rows
    assert "Problem 1: what do the symptoms say?" in row.summary.value
    assert "Vanishing" not in row.summary.value + row.said.value
    assert row.button.description == "Hint 1 of 3"
    row.hint()
    assert "Hint 1: It is about gradients across depth, NaN/Inf." in row.said.value
    assert "Hint 2" not in row.said.value and row.button.description == "Hint 2 of 3"
    row.hint()
    # the model is built over lines 2-4: the diagnosis has no single line to point at
    assert "Hint 2: It is not on one line of this cell: look at how the objects were built." \
        in row.said.value
    row.hint()
    assert "Hint 3: The numbers: at step 0, per weight" in row.said.value
    assert row.button.disabled and row.button.description == "no more hints"
    assert dash.trials.widget.layout.display == "none"
    # nbgrad.reveal() turns the dashboard on screen into the answer, in place
    nbgrad.reveal()
    assert dash.quiz is None
    assert "1 problem found" in dash.verdict.value and "Exercise" not in dash.verdict.value
    assert "Vanishing gradients" in dash.rows[0].summary.value
    assert dash.answers.children[0] is dash.rows[0].widget
    assert dash.trials.widget.layout.display == ""
    dash.close()


def test_quiz_is_one_option_for_the_magic_the_api_and_the_command_line():
    from nbgrad import options

    assert [o.name for o in options.on("cli") if o.name == "quiz"] == ["quiz"]
    assert ("--quiz", {"action": "store_true", "help": options.named("quiz").help}) in \
        options.argparse_arguments("magic")
    with pytest.raises(nbgrad.errors.NbgradUsageError, match="quiz must be True or False"):
        nbgrad.gradcheck("pass", quiz="yes")


def test_reveal_without_a_check_says_what_to_do(monkeypatch):
    from nbgrad import api

    monkeypatch.setattr(api, "_LAST", [])
    with pytest.raises(nbgrad.errors.NbgradUsageError, match="run a cell with %%gradcheck --quiz"):
        nbgrad.reveal()


def test_a_quiz_on_a_loop_that_never_learns_says_what_never_changed(shell, capsys):
    report = run(shell, """%%gradcheck --steps 5 --quiz
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0)
for xb, yb in loader:
    opt.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    opt.step()
""")
    assert "symptom: 4 of 4 parameters never changed" in report.outcome.summary
    assert "learning rate" not in capsys.readouterr().out.split("Gradient norm per layer")[0]


NO_ZERO_GRAD = """%%gradcheck --steps 10 --verify
for epoch in range(100):
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
"""
SETUP = """torch.manual_seed(0)
x = torch.randn(64, 10)
y = (x[:, :1] - 2 * x[:, 1:2]).tanh()
loss_fn = nn.MSELoss()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
"""


def test_compare_makes_a_before_after_card_of_two_checks(shell):
    shell.run_cell(SETUP, store_history=False)
    shell.run_cell(NO_ZERO_GRAD.replace(" --verify", ""), store_history=False)
    before = nbgrad.last_report()
    shell.run_cell(NO_ZERO_GRAD.replace(" --verify", "").replace(
        "    loss = loss_fn", "    optimizer.zero_grad()\n    loss = loss_fn"), store_history=False)
    after = nbgrad.last_report()
    card = nbgrad.compare(before, after)
    c = card.comparison
    assert c.symptom == ["the loss fell from 0.7204 to 0.3494 over 10 steps",
                         "the gradient norm of model[0] grew 5.3x from step 0 to step 9 "
                         "(0.5209 -> 2.747)"]  # "but my loss goes down": the gradient piles up
    assert c.cause == "Gradients accumulate across steps: zero_grad() is missing (line 4)"
    assert c.fix_code == "optimizer.zero_grad()" and c.resolved and c.improved
    assert c.result == ("loss 0.7204 → 0.3266 (it was 0.7204 → 0.3494): lower than before; the "
                        "problem is gone")
    # the first layer's gradient: it grows step after step without zero_grad(), shrinks with it
    assert c.layer == "model[0]" and len(c.before_grad) == len(c.after_grad) == 10
    assert c.before_grad[-1] > 4 * c.before_grad[0] and c.after_grad[-1] < c.after_grad[0]
    assert c.before_grad == [s.layers["0"].grad_norm for s in before.run.steps]
    text = str(card).splitlines()
    assert [line.split()[0] for line in text if not line.startswith(" ")] == \
        ["SYMPTOM", "CAUSE", "FIX", "RESULT"]
    assert "RESULT   ✔ fixed: loss 0.7204 → 0.3266" in str(card)
    html = card._repr_html_()
    assert "font-size:22px" in html and html.count('class="label"') == 4
    assert html.count("<img") == 1 and card.png().startswith(b"\x89PNG")


def test_the_verified_fix_is_a_card_too(shell):
    shell.run_cell(SETUP, store_history=False)
    shell.run_cell(NO_ZERO_GRAD, store_history=False)
    report = nbgrad.last_report()
    card = nbgrad.compare(report)
    c = card.comparison
    v = report.diagnoses[0].verification
    assert (c.before_losses, c.after_losses) == (v.original_losses, v.trial.losses)
    assert c.result == v.verdict and c.result.startswith("Tried: with a line put before line 4")
    assert (c.before_label, c.after_label) == ("your cell", "with the fix")
    assert c.after_grad == v.trial.grad_norms[v.trial.layers.index("0")]
    with pytest.raises(nbgrad.errors.NbgradUsageError, match="needs a report whose fix was tried"):
        nbgrad.compare(nbgrad.Report.from_json(report.to_json().replace('"verification"', '"x"')))


def test_summary_counts_a_class_s_saved_reports(tmp_path, capsys):
    from nbgrad.cli import main
    from tests import zoo_runs

    reports = {"ana": "no_zero_grad", "ben": "no_zero_grad", "cho": "lr_zero", "dev": "classic",
               "eli": "sigmoid_deep"}
    for student, loop in reports.items():
        (tmp_path / f"{student}.json").write_text(zoo_runs.report(loop).to_json())
    (tmp_path / "broken.json").write_text("{not json")
    paths = sorted(str(p) for p in tmp_path.glob("*.json"))
    assert main(["summary", *paths, "--html", str(tmp_path / "class.html")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "nbgrad summary: 5 reports: 4 with a problem, 1 without"
    first = lines[2].split()
    assert first[:5] == ["NBG301", "grads-accumulate", "error", "2", "of"]
    assert first[6] == "█" * 20  # the most frequent has the longest bar
    assert lines[3] == ("      e.g. ana.json, line 10: Gradients accumulate across steps: "
                        "zero_grad() is missing")
    assert "NBG401 lr-zero" in out and "1 of 5  " + "█" * 10 in out
    assert "(could not read broken.json: not an nbgrad report (JSONDecodeError" in out
    html = (tmp_path / "class.html").read_text()
    assert html.count("<img") == 1 and "<td>docs/rules/NBG3.md</td>" in html
    # the same from a notebook, with Report objects or a glob
    counted = nbgrad.summary([str(tmp_path / "*.json")]).tally
    assert [(c.code, c.reports) for c in counted.counts][:1] == [("NBG301", 2)]
    assert counted.reports == 5 and counted.clean == 1 and len(counted.unreadable) == 1
    objects = nbgrad.summary([zoo_runs.report("lr_zero"), zoo_runs.report("lr_zero")]).tally
    assert [(c.code, c.reports, c.example.split(",")[0]) for c in objects.counts
            if c.code == "NBG401"] == [("NBG401", 2, "report 1")]


def test_summary_of_no_report_says_what_to_pass(tmp_path, capsys):
    from nbgrad.cli import main

    (tmp_path / "notes.json").write_text("[]")
    assert main(["summary", str(tmp_path / "notes.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbgrad summary: none of the 1 files is an nbgrad report")
    assert "Example: nbgrad summary reports/*.json --html class.html" in err


def test_nbgrad_check_quiz_prints_the_exercise_and_keeps_the_answer_in_the_json(tmp_path, capsys):
    from nbgrad.cli import main

    script = tmp_path / "train.py"
    script.write_text("import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
                      "x, y = torch.randn(64, 4), torch.randn(64, 1)\n"
                      "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
                      "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                      "for i in range(100):\n"
                      "    loss = nn.functional.mse_loss(model(x), y)\n"
                      "    loss.backward()\n"
                      "    opt.step()\n")
    saved = tmp_path / "ana.json"
    assert main(["check", str(script), "--quiz", "--steps", "5", "--json", str(saved)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("nbgrad: Exercise: 1 problem to find")
    assert "[ERROR] problem 1: hidden" in out and "zero_grad" not in out
    report = nbgrad.Report.from_json(saved.read_text())
    assert report.hidden and report.diagnoses[0].code == "NBG301"
    assert main(["show", str(saved)]) == 0
    assert "zero_grad" not in capsys.readouterr().out  # still an exercise when shown again


def test_verify_across_ranks_is_refused_with_what_to_do(tmp_path, capsys):
    from nbgrad.cli import main

    script = tmp_path / "train.py"
    script.write_text("print('never runs')\n")
    assert main(["check", str(script), "--nproc-per-node", "2", "--verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbgrad check: --verify cannot be combined with --nproc-per-node")
    assert "never runs" not in capsys.readouterr().out
