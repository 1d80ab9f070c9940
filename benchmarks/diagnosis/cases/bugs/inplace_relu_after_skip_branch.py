"""A block uses nn.ReLU(inplace=True) on its input after the skip branch has used that input, and backward() fails with 'one of the variables needed for gradient computation has been modified by an inplace operation'; removing inplace=True fixes it."""

SOURCE = "https://github.com/osmr/imgclsmob/issues/13"
CAUSE = "inplace-modification"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(1024, 32)
y = (X[:, :16].sum(1) > 0).long()

class PreActBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.skip = nn.Linear(dim, dim)
        self.activ = nn.ReLU(inplace=True)
        self.body = nn.Linear(dim, dim)

    def forward(self, x):
        identity = self.skip(x)
        x = self.activ(x)
        x = self.body(x)
        return x + identity

model = nn.Sequential(nn.Linear(32, 64), PreActBlock(64), PreActBlock(64), nn.Linear(64, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(2):
    for i in range(0, 1024, 64):
        loss = nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(1024, 32)
y = (X[:, :16].sum(1) > 0).long()

class PreActBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.skip = nn.Linear(dim, dim)
        self.activ = nn.ReLU()
        self.body = nn.Linear(dim, dim)

    def forward(self, x):
        identity = self.skip(x)
        x = self.activ(x)
        x = self.body(x)
        return x + identity

model = nn.Sequential(nn.Linear(32, 64), PreActBlock(64), PreActBlock(64), nn.Linear(64, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(2):
    for i in range(0, 1024, 64):
        loss = nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12]
