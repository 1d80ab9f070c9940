"""In a post-training loop clip_grad_norm_ is called after optimizer.step(), so the step uses the unclipped gradients and the clipping is never used."""

SOURCE = "https://github.com/taesunwhang/UMS-ResSel/issues/3"
CAUSE = "clip-after-step"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(4096, 16)
X[torch.rand(4096) < 0.03] *= 30  # a few very long inputs
y = torch.tanh(X @ torch.randn(16, 1) / 4) + 0.05 * torch.randn(4096, 1)

model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
max_grad_norm = 1.0
for epoch in range(3):
    for i in range(0, 4096, 32):
        loss = F.mse_loss(model(X[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(4096, 16)
X[torch.rand(4096) < 0.03] *= 30  # a few very long inputs
y = torch.tanh(X @ torch.randn(16, 1) / 4) + 0.05 * torch.randn(4096, 1)

model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
max_grad_norm = 1.0
for epoch in range(3):
    for i in range(0, 4096, 32):
        loss = F.mse_loss(model(X[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()'''
FIX_LINES = [19]
STEPS = 60
