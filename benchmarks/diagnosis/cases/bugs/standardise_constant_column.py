"""Normalising tabular data produces NaN for constant columns: (x - mean) / std divides by a zero standard deviation."""

SOURCE = "https://github.com/fastai/fastai/issues/889"
CAUSE = "division-by-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 1000
temperature = torch.full((n,), 20.0)  # a controlled environment: constant in this subset
pressure = torch.randn(n) * 5 + 100
flow = torch.randn(n) * 2 + 10
conts = torch.stack([temperature, pressure, flow], dim=1)
target = ((pressure - 100) / 5 + 0.5 * (flow - 10) / 2).unsqueeze(1)

means, stds = conts.mean(0), conts.std(0)
conts = (conts - means) / stds

model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(5):
    for i in range(0, n, 50):
        loss = nn.functional.mse_loss(model(conts[i:i + 50]), target[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 1000
temperature = torch.full((n,), 20.0)  # a controlled environment: constant in this subset
pressure = torch.randn(n) * 5 + 100
flow = torch.randn(n) * 2 + 10
conts = torch.stack([temperature, pressure, flow], dim=1)
target = ((pressure - 100) / 5 + 0.5 * (flow - 10) / 2).unsqueeze(1)

means, stds = conts.mean(0), conts.std(0)
conts = (conts - means) / torch.where(stds > 0, stds, torch.ones_like(stds))

model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(5):
    for i in range(0, n, 50):
        loss = nn.functional.mse_loss(model(conts[i:i + 50]), target[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [13]
STEPS = 20
