"""Fixes as code: each line rewritten in the user's own names, every line the fix needs changed,
and the place named when the fix belongs outside the cell. The three cells a student wrote that
broke the old fixes (a float loss accumulator, a flatten on `images`, a softmax inside a class
of an earlier cell) run here for real."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nbgrad
from nbgrad.diagnose import fixes
from nbgrad.diagnose.diagnosis import Edit
from nbgrad.diagnose.fixes import lines as L
from nbgrad.diagnose.fixes import rates


def check(setup: str, cell: str, **options):
    """A cell's report, its setup run before it in the same namespace (an earlier cell)."""
    ns = {"torch": torch, "nn": nn, "F": nn.functional, "__name__": "__main__"}
    exec(setup, ns)
    try:
        return nbgrad.gradcheck(cell, namespace=ns, timeout=30, **options), ns
    except Exception:
        return nbgrad.last_report(), ns


# -- one line, rewritten --------------------------------------------------------------------------
def test_reconnect_removes_what_cuts_the_graph_and_keeps_the_rest():
    assert L.reconnect("    total_loss += loss.item()  # running sum") == \
        "    total_loss += loss  # running sum"
    assert L.reconnect("loss = torch.tensor(crit(model(x), y).item(), requires_grad=True)") == \
        "loss = crit(model(x), y)"
    assert L.reconnect("loss = torch.from_numpy(f(out).detach().cpu().numpy())") == "loss = f(out)"
    assert L.reconnect("h = torch.relu(self.fc1(x)).data") == "h = torch.relu(self.fc1(x))"
    assert L.reconnect("print(loss)") is None  # nothing to reconnect
    assert L.reconnect("zero = torch.tensor(0.0)") is None  # a constant, not a cut


def test_a_call_argument_is_rewritten_at_its_call_only():
    text = "        out = model(images[i:i + 16])  # forward"
    new = L.rewrite_argument(text, lambda c: c == "model", 0, lambda a: L.wrapped(a, "{}.flatten(1)"))
    assert new == "        out = model(images[i:i + 16].flatten(1))  # forward"
    # an operator binds to the whole argument
    assert L.rewrite_argument("y = model(a + b)", lambda c: c == "model", 0,
                              lambda a: L.wrapped(a, "{}.flatten(1)")) == "y = model((a + b).flatten(1))"
    assert L.rewrite_argument("loss = crit(out, y)", lambda c: c == "crit", 1,
                              lambda a: L.wrapped(a, "{} - 1")) == "loss = crit(out, y - 1)"
    assert L.rewrite_argument("loss = crit(out, y)", lambda c: c == "model", 0, str) is None


def test_unwrap_rename_drop_and_out_of_place():
    assert L.unwrap("logits = model(x).softmax(dim=1)", ("softmax",)) == "logits = model(x)"
    assert L.unwrap("out = torch.sigmoid(model(x))", ("sigmoid",)) == "out = model(x)"
    assert L.unwrap("p = F.softmax(net(x), dim=-1)", ("softmax",)) == "p = net(x)"
    assert L.rename_call("p = model(x).softmax(dim=1)", "softmax", "log_softmax") == \
        "p = model(x).log_softmax(dim=1)"
    assert L.drop_argument("m = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))",
                           r"nn\.Softmax\(.*\)") == "m = nn.Sequential(nn.Linear(4, 3))"
    assert L.out_of_place("h *= 2") == "h = h * 2"
    assert L.out_of_place("x += a + b") == "x = x + (a + b)"
    assert L.out_of_place("x.relu_()") == "x = x.relu()"
    assert L.out_of_place("act = nn.ReLU(inplace=True)") == "act = nn.ReLU(inplace=False)"


# -- edits of a cell ------------------------------------------------------------------------------
CELL = """\
for epoch in range(3):
    for x, y in loader:
        loss = f(model(x), y)
        loss.backward()
        opt.zero_grad()
        opt.step()
"""


def test_edits_apply_from_the_bottom_so_each_keeps_the_users_line_number():
    fixed = fixes.apply(CELL, [Edit(5, "remove"), Edit(6, "after", "opt.zero_grad()")],
                        first_line=1, notes=["moved", "moved"])
    assert fixed.splitlines()[2:] == [
        "        loss = f(model(x), y)", "        loss.backward()",
        "        # moved: removed: opt.zero_grad()", "        opt.step()", "        # moved",
        "        opt.zero_grad()"]
    compile(fixed, "<fixed>", "exec")


def test_removing_the_only_statement_of_a_block_leaves_pass():
    fixed = fixes.apply("for p in ps:\n    init(p)\nrun()\n", [Edit(2, "remove")])
    compile(fixed, "<fixed>", "exec")
    assert "    pass" in fixed.splitlines()


def test_a_conversion_of_what_a_line_makes_goes_after_it():
    assert fixes.fix_mode("X = torch.randn(8, 2, dtype=torch.float64)", "X = X.float()") == "after"
    assert fixes.fix_mode("X = X.double()", "X = X.float()") == "replace"


def test_edits_in_words():
    assert fixes.describe([Edit(10, "before", "x")]) == "a line put before line 10"
    assert fixes.describe([Edit(5, "replace", "a"), Edit(9, "replace", "b")]) == \
        "lines 5 and 9 changed"
    assert fixes.describe([Edit(4, "remove")]) == "line 4 removed"


# -- the cells of the issue, run for real ---------------------------------------------------------
DATA = """
torch.manual_seed(0)
X = torch.randn(256, 8); Y = X[:, :1] * 2
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
criterion = nn.MSELoss()
"""

ACCUMULATOR = """for epoch in range(100):
    total_loss = 0
    for i in range(0, 256, 64):
        loss = criterion(model(X[i:i + 64]), Y[i:i + 64])
        total_loss += loss.item()
    total_loss = total_loss / 4
    opt.zero_grad()
    total_loss.backward()
    opt.step()
"""


def test_a_float_loss_accumulator_is_fixed_where_the_item_is():
    report, _ = check(DATA, ACCUMULATOR)
    (d,) = [d for d in report.diagnoses if d.code == "NBG909"]
    assert d.edits == [Edit(5, "replace", "total_loss += loss")]  # not the division line
    assert d.fix_code == "total_loss += loss"
    cell = fixes.corrected_cell(report.run, d)
    assert "total_loss += loss\n" in cell and ".item()" not in cell
    assert "total_loss = total_loss / 4" in cell  # unchanged


def test_the_corrected_accumulator_runs_and_trains():
    report, _ = check(DATA, ACCUMULATOR, verify=True, steps=5)
    (d,) = [d for d in report.diagnoses if d.code == "NBG909"]
    v = d.verification
    assert v is not None and v.trial.ran and v.resolved
    assert v.trial.losses[-1] < v.trial.losses[0]
    assert fixes.offered_cell(report.run, d) == v.trial.source  # offered: it ran


IMAGES = """
torch.manual_seed(0)
images = torch.randn(64, 1, 4, 4); labels = torch.randint(0, 3, (64,))
model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = 5  # a global x the old fix would have rebound
"""

FLATTEN = """for epoch in range(10):
    for i in range(0, 64, 16):
        out = model(images[i:i + 16])
        loss = nn.functional.cross_entropy(out, labels[i:i + 16])
        opt.zero_grad(); loss.backward(); opt.step()
"""


def test_the_flatten_fix_uses_the_students_own_variable_at_the_models_call():
    report, ns = check(IMAGES, FLATTEN, verify=True, steps=5)
    (d,) = [d for d in report.diagnoses if d.code == "NBG906"]
    assert d.fix_code == "out = model(images[i:i + 16].flatten(1))"
    assert "images[i:i + 16].flatten(1)" in d.fix and "x.flatten" not in d.fix
    assert d.verification is not None and d.verification.resolved and d.verification.trial.ran
    assert ns["x"] == 5  # the user's global x is untouched


CLASS_CELL = """
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 4)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.randn(64, 10); y = x[:, :4].argmax(1)
criterion = nn.CrossEntropyLoss()
"""

SOFTMAX_ELSEWHERE = """for i in range(100):
    opt.zero_grad()
    out = model(x)
    loss = criterion(out, y)
    loss.backward()
    opt.step()
"""


def test_a_softmax_in_a_class_of_an_earlier_cell_is_said_to_be_there_not_at_a_line():
    report, _ = check(CLASS_CELL, SOFTMAX_ELSEWHERE, verify=True)
    (d,) = [d for d in report.diagnoses if d.code == "NBG801"]
    assert d.fix.startswith("The softmax is applied inside `model` (Net), whose code is not in "
                            "this cell")
    assert "(line" not in d.fix  # no line of this cell is the softmax's
    assert d.edits == [] and d.fix_code is None and d.verification is None  # no code to try


def test_a_softmax_module_built_in_the_cell_is_taken_out_of_the_model():
    cell = ("model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(),\n"
            "                      nn.Linear(8, 4),\n"
            "                      nn.Softmax(dim=1))\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.5)\n" + SOFTMAX_ELSEWHERE)
    report, _ = check("torch.manual_seed(0)\nx = torch.randn(64, 10); y = x[:, :4].argmax(1)\n"
                      "criterion = nn.CrossEntropyLoss()\n", cell, verify=True)
    (d,) = [d for d in report.diagnoses if d.code == "NBG801"]
    assert d.edits[0].line == 1 and "Softmax" not in d.edits[0].code
    assert d.verification is not None and d.verification.status == "helped"


# -- learning-rate sweeps -------------------------------------------------------------------------
@pytest.mark.parametrize("code, line, fix, expected", [
    ("NBG403", "opt = SGD(p, lr=3.0)", "opt = SGD(p, lr=0.1)", [1e-5, 1e-4, 1e-3, 1e-2, 0.1]),
    ("NBG703", "opt = Adam(p, lr=1e3)", "opt = Adam(p, lr=100)", [0.01, 0.1, 1, 10]),
    ("NBG402", "opt = SGD(p, lr=1e-9)", "opt = SGD(p, lr=1e-4)", [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]),
    ("NBG401", "opt = SGD(p, lr=0)", "opt = SGD(p, lr=1e-3)", [1e-5, 1e-4, 1e-3, 1e-2, 0.1]),
])
def test_sweeps_try_powers_of_ten_on_the_side_the_diagnosis_points_to(code, line, fix, expected):
    from nbgrad.diagnose.diagnosis import Diagnosis
    from nbgrad.records import Run

    run = Run(source=line + "\n", first_line=1, steps_requested=10, timeout_s=60,
              stopped_by="steps", elapsed_s=0.1)
    d = Diagnosis(code=code, slug="lr", severity="error", title="t", evidence=[], why="w",
                  fix="f", fix_code=fix, line=1)
    found = rates.candidates(run, d)
    assert [r for r, _ in found] == pytest.approx(expected)
    assert all(e.line == 1 and e.kind == "replace" and f"lr={rates.literal(r)}" in e.code
               for r, e in found)


# -- the training rules' fixes: moved lines, the user's layers, a freeze loop -------------------
def _corrected(name: str) -> tuple[list[str], list[str]]:
    """(the zoo loop's corrected cell as lines, its code lines without the comment lines)."""
    from tests import zoo, zoo_runs

    report = zoo_runs.report(name)
    (d,) = [d for d in report.diagnoses if d.code == zoo.BROKEN[name].code]
    cell = fixes.corrected_cell(report.run, d)
    assert cell is not None, name
    compile(cell, "<fixed>", "exec")
    lines = cell.splitlines()
    return lines, [x for x in lines if x.strip() and not x.strip().startswith("#")]


def test_a_clip_after_step_moves_between_backward_and_step():
    _, code = _corrected("clip_after_step")
    clip = "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)"
    assert code[-3:] == ["        loss.backward()", clip, "        opt.step()"]
    assert code.count(clip) == 1


def test_a_scheduler_stepped_per_batch_moves_to_the_end_of_the_epoch_loop():
    lines, code = _corrected("scheduler_stepped_per_batch")
    assert code[-2:] == ["        opt.step()", "    sched.step()"]  # after the batch loop, in the epoch's
    assert lines[-1] == "    sched.step()"  # the note of the removed line stays inside the batch loop


def test_a_loop_that_only_freezes_is_removed_with_its_body():
    lines, code = _corrected("only_norm_layers_train")
    assert not any("requires_grad_(False)" in x or x.strip() == "pass" for x in code)
    assert "for m in model.modules():" not in code
    assert any(x.endswith("removed: for m in model.modules(): (and the 1 line after it)")
               for x in lines)


def test_an_update_by_hand_clears_each_updated_gradient_under_no_grad():
    _, code = _corrected("manual_update_never_cleared")
    assert code[-4:] == ["        w -= 0.1 * w.grad", "        b -= 0.1 * b.grad",
                         "        w.grad.zero_()", "        b.grad.zero_()"]


def test_a_large_init_of_a_relu_model_becomes_hes_in_the_users_loop():
    _, code = _corrected("init_std_one_everywhere")
    assert "for m in model[::2]: nn.init.kaiming_normal_(m.weight, nonlinearity='relu')  # <fix>" \
        in code
    assert not any("std=3.0" in x for x in code)


def test_a_dominating_penalty_gets_its_weight_lowered_where_it_is_set():
    _, code = _corrected("l2_penalty_dominates")
    assert "l2 = 0.1  # <fix>" in code and "l2 = 10.0  # <fix>" not in code


LINEAR = """model = torch.nn.Sequential(torch.nn.Linear(10, 16),
                            torch.nn.Linear(16, 16),
                            torch.nn.Linear(16, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(100):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""
XY = "torch.manual_seed(0)\nx = torch.randn(64, 10); y = (x[:, 0] * x[:, 1] > 0).long()\n"


def test_an_activation_goes_between_each_two_linear_layers_as_the_user_writes_them():
    report, _ = check(XY, LINEAR, verify=True)
    (d,) = [d for d in report.diagnoses if d.code == "NBG603"]
    assert d.edits == [Edit(1, "replace", "model = torch.nn.Sequential(torch.nn.Linear(10, 16), "
                                          "torch.nn.ReLU(),\n"
                                          "                            torch.nn.Linear(16, 16), "
                                          "torch.nn.ReLU(),\n"
                                          "                            torch.nn.Linear(16, 4))")]
    assert d.verification is not None and d.verification.resolved


def test_no_activation_is_inserted_where_the_cell_indexes_the_model():
    cell = LINEAR.replace("opt = torch", "nn.init.zeros_(model[2].bias)\nopt = torch")
    report, _ = check(XY, cell)
    (d,) = [d for d in report.diagnoses if d.code == "NBG603"]
    assert d.edits == [] and d.fix_code is None  # model[2] would name another layer after it


# -- what the loss and the batches receive ---------------------------------------------------------
def test_a_keyword_is_set_where_given_and_added_where_not():
    from nbgrad.diagnose.fixes.data import _last_name, _with_keyword
    assert _with_keyword("loader = DataLoader(ds, batch_size=50, shuffle=False)  # train",
                         _last_name("DataLoader"), "shuffle", "True") == \
        "loader = DataLoader(ds, batch_size=50, shuffle=True)  # train"
    assert _with_keyword("        self.gru = nn.GRU(4, H)", _last_name("GRU"), "batch_first",
                         "True") == "        self.gru = nn.GRU(4, H, batch_first=True)"
    assert _with_keyword("crit = nn.CrossEntropyLoss()", _last_name("CrossEntropyLoss"),
                         "ignore_index", "0") == "crit = nn.CrossEntropyLoss(ignore_index=0)"
    assert _with_keyword("crit = nn.MSELoss()", _last_name("GRU"), "batch_first", "True") is None


CHANNELS_LAST = """torch.manual_seed(0)
images = torch.rand(64, 6, 8, 3)  # (N, H, W, C)
labels = (images[..., 0].mean((1, 2)) > images[..., 1].mean((1, 2))).long()
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for i in range(0, 640, 32):
    x = images[i % 64:i % 64 + 32].reshape(32, 3, 6, 8)
    loss = F.cross_entropy(model(x), labels[i % 64:i % 64 + 32])
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_reshape_that_reorders_axes_becomes_the_permute_that_moves_them():
    report, _ = check("", CHANNELS_LAST)
    (d,) = [d for d in report.diagnoses if d.code == "NBG864"]
    assert d.edits == [Edit(8, "replace", "x = images[i % 64:i % 64 + 32].permute(0, 3, 1, 2)")]


def test_a_softmax_over_the_batch_given_as_a_position_is_moved_to_the_classes():
    cell = """model = nn.Linear(10, 4)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(20):
    logp = F.log_softmax(model(x), 0)
    loss = F.nll_loss(logp, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""
    report, _ = check(XY.replace("> 0).long()", "> 0).long() + (x[:, 2] > 0).long()"), cell)
    (d,) = [d for d in report.diagnoses if d.code == "NBG811"]
    assert d.edits == [Edit(4, "replace", "logp = F.log_softmax(model(x), 1)")]


NEXT_ITER = """from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(x, y), batch_size=16)
model = nn.Linear(10, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    for step in range(len(loader)):
        xb, yb = next(iter(loader))
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def test_next_iter_in_a_counted_loop_becomes_a_loop_over_the_loader_unless_the_count_is_used():
    report, _ = check(XY, NEXT_ITER)
    (d,) = [d for d in report.diagnoses if d.code == "NBG862"]
    assert d.edits == [Edit(6, "replace", "for xb, yb in loader:"), Edit(7, "remove")]
    counted = NEXT_ITER.replace("        opt.step()\n", "        opt.step()\n        print(step)\n")
    report, _ = check(XY, counted)
    (d,) = [d for d in report.diagnoses if d.code == "NBG862"]
    assert d.edits == [] and d.fix_code is None  # `step` would be gone
