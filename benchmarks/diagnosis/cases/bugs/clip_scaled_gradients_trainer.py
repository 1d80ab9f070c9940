"""clip_grad_scale is applied to the scaled gradients under AMP, so values like 1.0 effectively halt training."""

SOURCE = "https://github.com/victorchall/EveryDream2trainer/pull/175"
CAUSE = "clip-scaled-gradients"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
latents = torch.randn(1024, 16)
noise = torch.randn(1024, 16)
unet = nn.Sequential(nn.Linear(32, 64), nn.SiLU(), nn.Linear(64, 16))
optimizer = torch.optim.SGD(unet.parameters(), lr=0.1, momentum=0.9)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
clip_grad_scale = 1.0
for epoch in range(4):
    for i in range(0, 1024, 32):
        t = torch.rand(32, 1)
        noisy = (1 - t) * latents[i:i + 32] + t * noise[i:i + 32]
        pred = unet(torch.cat([noisy, t.expand(32, 16)], dim=1))
        loss = ((pred - noise[i:i + 32]) ** 2).mean()
        scaler.scale(loss).backward()
        if clip_grad_scale > 0:
            torch.nn.utils.clip_grad_norm_(unet.parameters(), clip_grad_scale)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
latents = torch.randn(1024, 16)
noise = torch.randn(1024, 16)
unet = nn.Sequential(nn.Linear(32, 64), nn.SiLU(), nn.Linear(64, 16))
optimizer = torch.optim.SGD(unet.parameters(), lr=0.1, momentum=0.9)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
clip_grad_scale = 1.0
for epoch in range(4):
    for i in range(0, 1024, 32):
        t = torch.rand(32, 1)
        noisy = (1 - t) * latents[i:i + 32] + t * noise[i:i + 32]
        pred = unet(torch.cat([noisy, t.expand(32, 16)], dim=1))
        loss = ((pred - noise[i:i + 32]) ** 2).mean()
        scaler.scale(loss).backward()
        if clip_grad_scale > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(unet.parameters(), clip_grad_scale)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)'''
FIX_LINES = [18, 19]
STEPS = 30
