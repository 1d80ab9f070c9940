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


@pytest.fixture(autouse=True)
def _quiet(capsys):
    """The cells print their epochs; the tests read the reports."""
    yield
    capsys.readouterr()
