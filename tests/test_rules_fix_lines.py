"""Each diagnosis names the line where the fix belongs, not the line where the symptom shows: one
small loop per kind of mistake, the fix's line marked `# <fix>` in the cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nbgrad


def _run(cell: str, steps: int = 6) -> nbgrad.Report:
    return nbgrad.gradcheck(cell, steps=steps, namespace={"torch": torch, "nn": nn, "F": F})


def _fix_line(cell: str) -> int:
    return next(i for i, text in enumerate(cell.splitlines(), 1) if "# <fix>" in text)


def _one(report: nbgrad.Report, code: str) -> nbgrad.Diagnosis:
    found = [d for d in report.problems if d.code == code]
    assert len(found) == 1, [(d.code, d.line, d.title) for d in report.problems]
    return found[0]


ITEM_SUMMED = """\
torch.manual_seed(0)
X = torch.randn(256, 8)
Y = X[:, :1] * 2 - X[:, 1:2]
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(0, 256, 32):
    total = torch.zeros((), requires_grad=True)
    for x, y in zip(X[i:i + 32].split(8), Y[i:i + 32].split(8)):
        total = total + F.mse_loss(model(x), y).item()  # <fix>
    loss = total / 4
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(loss.item())
"""


def test_loss_summed_through_item_names_the_item_line_not_the_average_below_it():
    d = _one(_run(ITEM_SUMMED), "NBG101")
    assert d.line == _fix_line(ITEM_SUMMED)
    assert any(".item()" in e.text and "line 9" in e.text for e in d.evidence)


TRAIN_STEP = """\
torch.manual_seed(0)
X = torch.randn(512, 8)
Y = X[:, :1] * 2 - X[:, 1:2]
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

def train_step(x, y):
    \"\"\"One optimizer step.\"\"\"
    out = model(x)  # <fix>
    loss = F.mse_loss(out, y)
    loss.backward()
    opt.step()

for i in range(0, 512, 32):
    train_step(X[i:i + 32], Y[i:i + 32])
"""


def test_missing_zero_grad_in_a_step_function_names_the_functions_first_statement():
    d = _one(_run(TRAIN_STEP), "NBG301")
    assert d.line == _fix_line(TRAIN_STEP)
    assert "first statement of train_step() (line 9)" in d.fix


def test_missing_zero_grad_in_a_loop_still_names_the_backward_line():
    cell = TRAIN_STEP.replace("    out = model(x)  # <fix>", "    out = model(x)") \
        .replace("def train_step(x, y):\n    \"\"\"One optimizer step.\"\"\"\n",
                 "for x, y in zip(X.split(32), Y.split(32)):\n") \
        .replace("    loss.backward()", "    loss.backward()  # <fix>") \
        .replace("for i in range(0, 512, 32):\n    train_step(X[i:i + 32], Y[i:i + 32])\n", "")
    d = _one(_run(cell), "NBG301")
    assert d.line == _fix_line(cell)


FLOAT64_DATA = """\
np.random.seed(0)
w = torch.from_numpy(np.random.randn(4, 1).astype(np.float32)).requires_grad_()
x_np = np.random.randn(256, 4)
X = torch.from_numpy(x_np)  # <fix>
Y = X[:, :1].float() * 2
opt = torch.optim.SGD([w], lr=0.1)
for i in range(0, 256, 32):
    loss = ((X[i:i + 32] @ w - Y[i:i + 32]) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_float64_data_names_where_numpy_becomes_a_tensor_not_the_float32_weights():
    with pytest.raises(RuntimeError, match=r"dtype|Double"):
        nbgrad.gradcheck(FLOAT64_DATA, steps=4, namespace={"torch": torch, "np": np})
    d = _one(nbgrad.last_report(), "NBG904")
    assert d.line == _fix_line(FLOAT64_DATA)
    assert d.fix_code == "X = X.float()"


NUMPY_BETWEEN_LAYERS = """\
torch.manual_seed(0)
X = torch.rand(256, 8)
Y = X[:, :1] * 2 - X[:, 1:2]

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.from_numpy(np.sqrt(h.detach().numpy()))  # <fix>
        return self.fc2(h)

model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for i in range(0, 256, 32):
    loss = F.mse_loss(model(X[i:i + 32]), Y[i:i + 32])
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_numpy_round_trip_between_layers_names_the_round_trip_not_the_layer_before_it():
    report = nbgrad.gradcheck(NUMPY_BETWEEN_LAYERS, steps=6,
                              namespace={"torch": torch, "nn": nn, "F": F, "np": np})
    d = _one(report, "NBG102")
    assert d.layers == ["fc1"]
    assert d.line == _fix_line(NUMPY_BETWEEN_LAYERS)
    assert any(".detach()" in e.text and "line 13" in e.text for e in d.evidence)


GROUP_LIST = """\
torch.manual_seed(0)
X = torch.randn(256, 8)
Y = X[:, :1] * 2 - X[:, 1:2]
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
groups = [{"params": model[0].parameters(), "lr": 1e-3}]
groups.append({"params": model[4].parameters()})  # <fix>
opt = torch.optim.Adam(groups, lr=1e-2)
for i in range(0, 256, 32):
    loss = F.mse_loss(model(X[i:i + 32]), Y[i:i + 32])
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_layer_left_out_of_a_list_of_parameter_groups_names_where_the_list_is_built():
    d = _one(_run(GROUP_LIST), "NBG201")
    assert d.layers == ["2"]
    assert d.line == _fix_line(GROUP_LIST)
    assert "'opt' from `groups`, a list of 2 parameter groups" in " ".join(e.text for e in d.evidence)


LOG_OF_SIGMOID = """\
torch.manual_seed(0)
X = torch.randn(256, 8) * 40
Y = (X[:, :1] > 0).float()
model = nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(0, 256, 32):
    p = torch.sigmoid(model(X[i:i + 32]))  # <fix>
    loss = -(Y[i:i + 32] * torch.log(p) + (1 - Y[i:i + 32]) * torch.log(1 - p)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_log_of_a_saturated_sigmoid_names_the_sigmoid_and_says_so_in_the_title():
    d = _one(_run(LOG_OF_SIGMOID), "NBG503")
    assert d.line == _fix_line(LOG_OF_SIGMOID)
    assert "log() at line 8 of the sigmoid() output made at line 7" in d.title
