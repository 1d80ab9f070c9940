"""Gradient clipping at max_norm=1.0 clips 100% of the batches: the raw gradient norm is about 20, so the effective step is some 20x smaller than the learning rate implies."""

SOURCE = "https://github.com/wandb/senpai/pull/978"
CAUSE = "clip-too-tight"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
mesh = torch.rand(4000, 3) * 4 - 2
pressure = (torch.sin(2 * mesh[:, :1]) * torch.cos(mesh[:, 1:2]) + mesh[:, 2:]) * 5  # surface pressure, not standardised

model = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(), nn.Linear(128, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    for i in range(0, 4000, 64):
        loss = nn.functional.mse_loss(model(mesh[i:i + 64]), pressure[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
mesh = torch.rand(4000, 3) * 4 - 2
pressure = (torch.sin(2 * mesh[:, :1]) * torch.cos(mesh[:, 1:2]) + mesh[:, 2:]) * 5  # surface pressure, not standardised

model = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(), nn.Linear(128, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    for i in range(0, 4000, 64):
        loss = nn.functional.mse_loss(model(mesh[i:i + 64]), pressure[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=100.0)
        optimizer.step()'''
FIX_LINES = [15]
STEPS = 30
