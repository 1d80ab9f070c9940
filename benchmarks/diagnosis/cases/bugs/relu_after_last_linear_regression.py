"""A regression network ends in a ReLU after its last Linear layer, so it can never predict a negative value; the fix removes the final ReLU."""

SOURCE = "https://github.com/hunkim/PyTorchZeroToAll/pull/4"
CAUSE = "relu-on-output"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
x_data = torch.randn(1024, 8)
y_data = x_data @ torch.randn(8, 1) - 1.0

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(8, 6)
        self.l2 = nn.Linear(6, 4)
        self.l3 = nn.Linear(4, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        out1 = self.relu(self.l1(x))
        out2 = self.relu(self.l2(out1))
        y_pred = self.relu(self.l3(out2))
        return y_pred

model = Model()
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(20):
    for i in range(0, 1024, 64):
        y_pred = model(x_data[i:i + 64])
        loss = criterion(y_pred, y_data[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
x_data = torch.randn(1024, 8)
y_data = x_data @ torch.randn(8, 1) - 1.0

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(8, 6)
        self.l2 = nn.Linear(6, 4)
        self.l3 = nn.Linear(4, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        out1 = self.relu(self.l1(x))
        out2 = self.relu(self.l2(out1))
        y_pred = self.l3(out2)
        return y_pred

model = Model()
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(20):
    for i in range(0, 1024, 64):
        y_pred = model(x_data[i:i + 64])
        loss = criterion(y_pred, y_data[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [19]
STEPS = 40
