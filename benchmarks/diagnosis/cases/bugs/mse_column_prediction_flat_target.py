"""A regression model outputs shape (n, 1) while the target has shape (n,); MSELoss broadcasts them to (n, n) and the model learns only the mean."""

SOURCE = "https://github.com/pytorch/pytorch/pull/18349"
CAUSE = "loss-shape-broadcast"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
signals = torch.randn(2048, 1, 50)
target = signals[:, 0, :10].mean(1) * 4 + 1  # shape (n,)

model = nn.Sequential(
    nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(),
    nn.AdaptiveAvgPool1d(10), nn.Flatten(),
    nn.Linear(80, 1),
)
loss_fn = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for i in range(0, 2048, 64):
        pred = model(signals[i:i + 64])  # shape (n, 1)
        loss = loss_fn(pred, target[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
signals = torch.randn(2048, 1, 50)
target = signals[:, 0, :10].mean(1) * 4 + 1  # shape (n,)

model = nn.Sequential(
    nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(),
    nn.AdaptiveAvgPool1d(10), nn.Flatten(),
    nn.Linear(80, 1),
)
loss_fn = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for i in range(0, 2048, 64):
        pred = model(signals[i:i + 64]).squeeze(1)
        loss = loss_fn(pred, target[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [17]
STEPS = 40
HELD = "loss_fn(model(signals[-256:]).squeeze(1), target[-256:]).item()"
