"""A BYOL-style model returns one regression loss per sample and backward() fails with 'grad can be implicitly created only for scalar outputs'; the loss has to be averaged."""

SOURCE = "https://github.com/MrChenFeng/Adaptive-Soft-Contrastive-Learning_ICPR2022/issues/2"
CAUSE = "backward-non-scalar"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.randn(1024, 64)

def regression_loss(x, y):
    x = F.normalize(x, dim=-1)
    y = F.normalize(y, dim=-1)
    return 2 - 2 * (x * y).sum(dim=-1)

online = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
predictor = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
target = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
target.load_state_dict(online.state_dict())
optimizer = torch.optim.SGD([*online.parameters(), *predictor.parameters()], lr=0.05, momentum=0.9)

for epoch in range(2):
    for i in range(0, 1024, 64):
        x = images[i:i + 64]
        view1, view2 = x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x)
        with torch.no_grad():
            target_proj = target(view2)
        loss = regression_loss(predictor(online(view1)), target_proj)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.randn(1024, 64)

def regression_loss(x, y):
    x = F.normalize(x, dim=-1)
    y = F.normalize(y, dim=-1)
    return 2 - 2 * (x * y).sum(dim=-1)

online = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
predictor = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
target = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
target.load_state_dict(online.state_dict())
optimizer = torch.optim.SGD([*online.parameters(), *predictor.parameters()], lr=0.05, momentum=0.9)

for epoch in range(2):
    for i in range(0, 1024, 64):
        x = images[i:i + 64]
        view1, view2 = x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x)
        with torch.no_grad():
            target_proj = target(view2)
        loss = regression_loss(predictor(online(view1)), target_proj).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [25]
