"""The samples come sorted by label and are not shuffled, so the model sees one class at a time and forgets the others."""

SOURCE = "https://github.com/mathurinm/celer/pull/154"
CAUSE = "unshuffled-sorted-data"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
genes = torch.randn(3, 100)
y = torch.arange(3).repeat_interleave(600)  # the file lists ALL, then AML, then MLL samples
X = genes[y] + 1.5 * torch.randn(1800, 100)
X_val = genes[torch.arange(3).repeat(100)] + 1.5 * torch.randn(300, 100)
y_val = torch.arange(3).repeat(100)
loader = DataLoader(TensorDataset(X, y), batch_size=60, shuffle=False)

model = nn.Sequential(nn.Linear(100, 32), nn.ReLU(), nn.Linear(32, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(2):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
genes = torch.randn(3, 100)
y = torch.arange(3).repeat_interleave(600)  # the file lists ALL, then AML, then MLL samples
X = genes[y] + 1.5 * torch.randn(1800, 100)
X_val = genes[torch.arange(3).repeat(100)] + 1.5 * torch.randn(300, 100)
y_val = torch.arange(3).repeat(100)
loader = DataLoader(TensorDataset(X, y), batch_size=60, shuffle=True)

model = nn.Sequential(nn.Linear(100, 32), nn.ReLU(), nn.Linear(32, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(2):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
STEPS = 25
HELD = 'torch.nn.functional.cross_entropy(model(X_val), y_val).item()'
