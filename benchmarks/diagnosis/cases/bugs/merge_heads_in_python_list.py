"""A merge layer keeps its sub-layers in a Python list instead of nn.ModuleList, so their trainable variables are missing."""

SOURCE = "https://github.com/asyml/texar-pytorch/issues/72"
CAUSE = "layers-in-python-list"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)

class MergeLayer(nn.Module):
    def __init__(self, in_features, n_branches, out_features):
        super().__init__()
        self.branches = [nn.Sequential(nn.Linear(in_features, 2), nn.Tanh()) for _ in range(n_branches)]
        self.out = nn.Linear(2 * n_branches, out_features)

    def forward(self, x):
        return self.out(torch.cat([b(x) for b in self.branches], dim=1))

x = torch.randn(2000, 16)
y = 3 * torch.tanh(x @ torch.randn(16, 2) / 2)
model = MergeLayer(16, 3, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(5):
    for xb, yb in zip(x.split(50), y.split(50)):
        loss = nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)

class MergeLayer(nn.Module):
    def __init__(self, in_features, n_branches, out_features):
        super().__init__()
        self.branches = nn.ModuleList([nn.Sequential(nn.Linear(in_features, 2), nn.Tanh()) for _ in range(n_branches)])
        self.out = nn.Linear(2 * n_branches, out_features)

    def forward(self, x):
        return self.out(torch.cat([b(x) for b in self.branches], dim=1))

x = torch.randn(2000, 16)
y = 3 * torch.tanh(x @ torch.randn(16, 2) / 2)
model = MergeLayer(16, 3, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(5):
    for xb, yb in zip(x.split(50), y.split(50)):
        loss = nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [9]
STEPS = 40
