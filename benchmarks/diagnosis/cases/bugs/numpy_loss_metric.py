"""A loss written in NumPy on tensors converted with .numpy() cannot propagate gradients back to the layers before it."""

SOURCE = "https://github.com/delira-dev/delira/issues/40"
CAUSE = "numpy-roundtrip"
CELL = '''\
import numpy as np
import torch

torch.manual_seed(0)
x = torch.randn(800, 6)
y = (x[:, :2] ** 2).sum(1, keepdim=True)

model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

def smape(pred, target):
    p, t = pred.detach().numpy(), target.numpy()
    return np.mean(np.abs(p - t) / (np.abs(p) + np.abs(t) + 1e-6))

for epoch in range(20):
    for i in range(0, 800, 40):
        pred = model(x[i:i + 40])
        loss = torch.tensor(smape(pred, y[i:i + 40]), requires_grad=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch

torch.manual_seed(0)
x = torch.randn(800, 6)
y = (x[:, :2] ** 2).sum(1, keepdim=True)

model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

def smape(pred, target):
    return torch.mean(torch.abs(pred - target) / (torch.abs(pred) + torch.abs(target) + 1e-6))

for epoch in range(20):
    for i in range(0, 800, 40):
        pred = model(x[i:i + 40])
        loss = smape(pred, y[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12, 13, 18]
STEPS = 30
