"""The raw neural network example has no nonlinearity between its layers, so the multi-layer network is equivalent to a linear function."""

SOURCE = "https://github.com/aymericdamien/TensorFlow-Examples/issues/270"
CAUSE = "missing-nonlinearity"
CELL = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 3000
radius = torch.rand(n) * 2
angle = torch.rand(n) * 2 * math.pi
X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
y = (radius > 1).long()  # inner disc vs outer ring

neural_net = nn.Sequential(
    nn.Linear(2, 64),
    nn.Linear(64, 64),
    nn.Linear(64, 2),
)
optimizer = torch.optim.Adam(neural_net.parameters(), lr=1e-2)
for step in range(300):
    idx = torch.randint(0, n, (128,))
    loss = nn.functional.cross_entropy(neural_net(X[idx]), y[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 3000
radius = torch.rand(n) * 2
angle = torch.rand(n) * 2 * math.pi
X = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
y = (radius > 1).long()  # inner disc vs outer ring

neural_net = nn.Sequential(
    nn.Linear(2, 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2),
)
optimizer = torch.optim.Adam(neural_net.parameters(), lr=1e-2)
for step in range(300):
    idx = torch.randint(0, n, (128,))
    loss = nn.functional.cross_entropy(neural_net(X[idx]), y[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [13, 14]
STEPS = 60
