"""StepLR(step_size=epochs // 2, gamma=0.1) is stepped at every training step instead of every epoch, so the learning rate becomes zero after a few steps and the GAN does not train."""

SOURCE = "https://github.com/Lornatang/SRGAN-PyTorch/issues/1"
CAUSE = "scheduler-per-batch"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
hr = torch.rand(512, 1, 16, 16)
lr_images = F.avg_pool2d(hr, 2)

netG = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 16, 3, padding=1), nn.PReLU(),
                     nn.Conv2d(16, 1, 3, padding=1))
epochs = 10
optimizerG = torch.optim.Adam(netG.parameters(), lr=1e-3)
schedulerG = torch.optim.lr_scheduler.StepLR(optimizerG, step_size=epochs // 2, gamma=0.1)
for epoch in range(epochs):
    for i in range(0, 512, 16):
        sr = netG(lr_images[i:i + 16])
        g_loss = F.mse_loss(sr, hr[i:i + 16])
        optimizerG.zero_grad()
        g_loss.backward()
        optimizerG.step()
        schedulerG.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
hr = torch.rand(512, 1, 16, 16)
lr_images = F.avg_pool2d(hr, 2)

netG = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 16, 3, padding=1), nn.PReLU(),
                     nn.Conv2d(16, 1, 3, padding=1))
epochs = 10
optimizerG = torch.optim.Adam(netG.parameters(), lr=1e-3)
schedulerG = torch.optim.lr_scheduler.StepLR(optimizerG, step_size=epochs // 2, gamma=0.1)
for epoch in range(epochs):
    for i in range(0, 512, 16):
        sr = netG(lr_images[i:i + 16])
        g_loss = F.mse_loss(sr, hr[i:i + 16])
        optimizerG.zero_grad()
        g_loss.backward()
        optimizerG.step()
    schedulerG.step()'''
FIX_LINES = [21]
STEPS = 30
