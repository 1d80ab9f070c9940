"""A wide-and-deep regression model for housing prices was fed the raw, non-normalised features, which degraded it; the fix standardises the inputs."""

SOURCE = "https://github.com/ageron/handson-ml3/pull/20"
CAUSE = "unnormalised-inputs"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
n = 4000
income = torch.rand(n) * 12 + 0.5
age = torch.rand(n) * 50 + 1
rooms = torch.rand(n) * 6 + 2
population = torch.rand(n) * 3000 + 100
lat = torch.rand(n) * 9 + 32.5
lon = -(torch.rand(n) * 10 + 114.5)
X = torch.stack([income, age, rooms, population, lat, lon], dim=1)
y = (0.4 * income + 0.01 * age - 0.0002 * population - 0.2 * (lat - 36) + 0.3 * torch.randn(n)).unsqueeze(1)

class WideAndDeep(nn.Module):
    def __init__(self):
        super().__init__()
        self.deep = nn.Sequential(nn.Linear(6, 30), nn.ReLU(), nn.Linear(30, 30), nn.ReLU())
        self.out = nn.Linear(30 + 6, 1)

    def forward(self, x):
        return self.out(torch.cat([x, self.deep(x)], dim=1))

model = WideAndDeep()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, n - 500, 32):  # the last 500 districts are for validation
        loss = nn.functional.mse_loss(model(X[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
n = 4000
income = torch.rand(n) * 12 + 0.5
age = torch.rand(n) * 50 + 1
rooms = torch.rand(n) * 6 + 2
population = torch.rand(n) * 3000 + 100
lat = torch.rand(n) * 9 + 32.5
lon = -(torch.rand(n) * 10 + 114.5)
X = torch.stack([income, age, rooms, population, lat, lon], dim=1)
X = (X - X.mean(0)) / X.std(0)
y = (0.4 * income + 0.01 * age - 0.0002 * population - 0.2 * (lat - 36) + 0.3 * torch.randn(n)).unsqueeze(1)

class WideAndDeep(nn.Module):
    def __init__(self):
        super().__init__()
        self.deep = nn.Sequential(nn.Linear(6, 30), nn.ReLU(), nn.Linear(30, 30), nn.ReLU())
        self.out = nn.Linear(30 + 6, 1)

    def forward(self, x):
        return self.out(torch.cat([x, self.deep(x)], dim=1))

model = WideAndDeep()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, n - 500, 32):  # the last 500 districts are for validation
        loss = nn.functional.mse_loss(model(X[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12, 13]
STEPS = 40
HELD = "nn.functional.mse_loss(model(X[-500:]), y[-500:]).item()"
