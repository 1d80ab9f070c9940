"""A physics-informed network's initial-condition loss compares prediction [batch, 1] with target [batch]; MSELoss warns about broadcasting."""

SOURCE = "https://github.com/Photon-AI-Research/NeuralSolvers/issues/20"
CAUSE = "loss-shape-broadcast"
CELL = '''\
import math
import torch
import torch.nn.functional as F

torch.manual_seed(0)
# u(x, y, t=0) = sin(pi x) sin(pi y) on the unit square
points = torch.rand(4096, 3)
points[:, 2] = 0.0
u0 = torch.sin(math.pi * points[:, 0]) * torch.sin(math.pi * points[:, 1])
X_val, y_val = points[-512:], u0[-512:]

model = torch.nn.Sequential(
    torch.nn.Linear(3, 64), torch.nn.Tanh(),
    torch.nn.Linear(64, 64), torch.nn.Tanh(),
    torch.nn.Linear(64, 1),
)
optim = torch.optim.Adam(model.parameters(), lr=1e-2)

def initial_condition_loss(x, u):
    prediction = model(x)
    return F.mse_loss(prediction, u)

for it in range(300):
    idx = torch.randint(0, 3584, (128,))
    optim.zero_grad()
    loss = initial_condition_loss(points[idx], u0[idx])
    loss.backward()
    optim.step()'''
FIX = '''\
import math
import torch
import torch.nn.functional as F

torch.manual_seed(0)
# u(x, y, t=0) = sin(pi x) sin(pi y) on the unit square
points = torch.rand(4096, 3)
points[:, 2] = 0.0
u0 = torch.sin(math.pi * points[:, 0]) * torch.sin(math.pi * points[:, 1])
X_val, y_val = points[-512:], u0[-512:]

model = torch.nn.Sequential(
    torch.nn.Linear(3, 64), torch.nn.Tanh(),
    torch.nn.Linear(64, 64), torch.nn.Tanh(),
    torch.nn.Linear(64, 1),
)
optim = torch.optim.Adam(model.parameters(), lr=1e-2)

def initial_condition_loss(x, u):
    prediction = model(x).reshape(-1)
    return F.mse_loss(prediction, u)

for it in range(300):
    idx = torch.randint(0, 3584, (128,))
    optim.zero_grad()
    loss = initial_condition_loss(points[idx], u0[idx])
    loss.backward()
    optim.step()'''
FIX_LINES = [20]
STEPS = 100
HELD = '((model(X_val).view(-1) - y_val) ** 2).mean().item()'
