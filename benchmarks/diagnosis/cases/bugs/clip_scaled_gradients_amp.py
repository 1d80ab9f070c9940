"""With native AMP the gradients are clipped while still scaled (clip before scaler.unscale_), so the effective clip threshold is tens of thousands of times too small and the loss curve stays flat."""

SOURCE = "https://github.com/Lightning-AI/pytorch-lightning/issues/9599"
CAUSE = "clip-scaled-gradients"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(2048, 32)
y = (X @ torch.randn(32, 4)).argmax(1)

model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scaler = torch.amp.GradScaler("cpu")
gradient_clip_val = 1.0
for epoch in range(3):
    for i in range(0, 2048, 64):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clip_val)
        scaler.step(optimizer)
        scaler.update()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(2048, 32)
y = (X @ torch.randn(32, 4)).argmax(1)

model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scaler = torch.amp.GradScaler("cpu")
gradient_clip_val = 1.0
for epoch in range(3):
    for i in range(0, 2048, 64):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clip_val)
        scaler.step(optimizer)
        scaler.update()'''
FIX_LINES = [18, 19]
STEPS = 30
