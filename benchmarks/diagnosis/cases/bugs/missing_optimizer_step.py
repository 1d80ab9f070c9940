"""The training script calls backward, lr_scheduler.step() and optimizer.zero_grad() but never optimizer.step(), so the weights never get updated."""

SOURCE = "https://github.com/tedlasai/learn2refocus/issues/5"
CAUSE = "missing-step"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
blur = torch.rand(256, 1, 16, 16)
sharp = (blur - F.avg_pool2d(blur, 3, 1, 1)) * 2 + blur

unet = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 1, 3, padding=1))
optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
lr_scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
for epoch in range(3):
    for i in range(0, 256, 8):
        pred = unet(blur[i:i + 8])
        loss = F.mse_loss(pred, sharp[i:i + 8])
        loss.backward()
        lr_scheduler.step()
        optimizer.zero_grad()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
blur = torch.rand(256, 1, 16, 16)
sharp = (blur - F.avg_pool2d(blur, 3, 1, 1)) * 2 + blur

unet = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 1, 3, padding=1))
optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
lr_scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
for epoch in range(3):
    for i in range(0, 256, 8):
        pred = unet(blur[i:i + 8])
        loss = F.mse_loss(pred, sharp[i:i + 8])
        loss.backward()
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()'''
FIX_LINES = [15, 16]
STEPS = 20
