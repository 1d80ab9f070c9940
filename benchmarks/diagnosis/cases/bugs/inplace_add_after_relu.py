"""An FPN head adds the upsampled map to the lateral map in place (laterals[i - 1] += ...) after a ReLU, and backward raises that a ReluBackward0 output was modified by an inplace operation."""

SOURCE = "https://github.com/lyongo/NWPU-MOC/issues/4"
CAUSE = "inplace-modification"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class FPNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.lat1, self.lat2 = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        f1 = F.relu(self.c1(x))
        f2 = F.relu(self.c2(f1))
        laterals = [F.relu(self.lat1(f1)), F.relu(self.lat2(f2))]
        for i in range(len(laterals) - 1, 0, -1):
            prev_shape = laterals[i - 1].shape[2:]
            laterals[i - 1] += F.interpolate(laterals[i], size=prev_shape, mode="nearest")
        return self.out(laterals[0])

net = FPNHead()
imgs = torch.rand(64, 3, 16, 16)
density = F.avg_pool2d(imgs[:, :1], 5, 1, 2)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 64, 8):
        loss = F.mse_loss(net(imgs[i:i + 8]), density[i:i + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class FPNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.lat1, self.lat2 = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        f1 = F.relu(self.c1(x))
        f2 = F.relu(self.c2(f1))
        laterals = [F.relu(self.lat1(f1)), F.relu(self.lat2(f2))]
        for i in range(len(laterals) - 1, 0, -1):
            prev_shape = laterals[i - 1].shape[2:]
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=prev_shape, mode="nearest")
        return self.out(laterals[0])

net = FPNHead()
imgs = torch.rand(64, 3, 16, 16)
density = F.avg_pool2d(imgs[:, :1], 5, 1, 2)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 64, 8):
        loss = F.mse_loss(net(imgs[i:i + 8]), density[i:i + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21]
