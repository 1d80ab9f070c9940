"""Inputs and labels come from two shuffled DataLoaders zipped together, so the batch of labels does not belong to the batch of inputs."""

SOURCE = "https://github.com/aidotse/LeakPro/issues/315"
CAUSE = "labels-shuffled-separately"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

torch.manual_seed(0)
signals = torch.randn(2000, 1, 64)
kinds = torch.randint(0, 3, (2000,))
signals[kinds == 1] += torch.linspace(-1, 1, 64)
signals[kinds == 2] += torch.linspace(1, -1, 64)

x_loader = DataLoader(signals, batch_size=50, shuffle=True)
y_loader = DataLoader(kinds, batch_size=50, shuffle=True)
model = nn.Sequential(nn.Conv1d(1, 8, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(8), nn.Flatten(), nn.Linear(64, 3))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for x, y in zip(x_loader, y_loader):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

torch.manual_seed(0)
signals = torch.randn(2000, 1, 64)
kinds = torch.randint(0, 3, (2000,))
signals[kinds == 1] += torch.linspace(-1, 1, 64)
signals[kinds == 2] += torch.linspace(1, -1, 64)

x_loader = DataLoader(signals, batch_size=50, shuffle=False)
y_loader = DataLoader(kinds, batch_size=50, shuffle=False)
model = nn.Sequential(nn.Conv1d(1, 8, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(8), nn.Flatten(), nn.Linear(64, 3))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for x, y in zip(x_loader, y_loader):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11, 12]
STEPS = 30
