"""After the features were normalised, a linear regression's loss stopped going down: the learning rate was too small for the new scale."""

SOURCE = "https://github.com/Smadx/USTC-ML24-Fall/issues/47"
CAUSE = "lr-too-small"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
raw = torch.rand(2000, 6) * torch.tensor([100.0, 5.0, 2000.0, 1.0, 30.0, 10.0])
target = raw @ torch.tensor([0.02, 1.0, 0.001, 3.0, 0.1, 0.5]) + torch.randn(2000) * 0.1
features = (raw - raw.mean(0)) / raw.std(0)
target = (target - target.mean()) / target.std()

model = nn.Linear(6, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
loss_fn = nn.MSELoss()
for epoch in range(10):
    for i in range(0, 2000, 50):
        pred = model(features[i:i + 50]).squeeze(1)
        loss = loss_fn(pred, target[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
raw = torch.rand(2000, 6) * torch.tensor([100.0, 5.0, 2000.0, 1.0, 30.0, 10.0])
target = raw @ torch.tensor([0.02, 1.0, 0.001, 3.0, 0.1, 0.5]) + torch.randn(2000) * 0.1
features = (raw - raw.mean(0)) / raw.std(0)
target = (target - target.mean()) / target.std()

model = nn.Linear(6, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
loss_fn = nn.MSELoss()
for epoch in range(10):
    for i in range(0, 2000, 50):
        pred = model(features[i:i + 50]).squeeze(1)
        loss = loss_fn(pred, target[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
STEPS = 30
