"""A layer's forward converts its activations to a NumPy array and back to a tensor, which breaks the computational graph: the layers before the conversion never learn."""

SOURCE = "https://github.com/ligerlac/torchlogix/pull/17"
CAUSE = "numpy-roundtrip"
HELD_OUT = "2026-11-30"
CELL = '''\
import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
X = torch.rand(2048, 2) * 4 - 2
y = (X.norm(dim=1) < 1.2).long()

class ClippedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 6)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = self.hidden(x)
        h = torch.from_numpy(np.clip(h.detach().numpy(), 0.0, 1.0))
        return self.out(h)

model = ClippedNet()
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(5):
    for i in range(0, 2048, 64):
        loss = nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
X = torch.rand(2048, 2) * 4 - 2
y = (X.norm(dim=1) < 1.2).long()

class ClippedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 6)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = self.hidden(x)
        h = torch.clamp(h, 0.0, 1.0)
        return self.out(h)

model = ClippedNet()
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(5):
    for i in range(0, 2048, 64):
        loss = nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [17]
STEPS = 60
