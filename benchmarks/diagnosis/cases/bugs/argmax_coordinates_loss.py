"""Predicted coordinate bins go through torch.argmax before the loss, and loss.backward() fails with 'element 0 of tensors does not require grad'."""

SOURCE = "https://github.com/LZGMatrix/BOP19_CDPN_2019ICCV/issues/4"
CAUSE = "argmax-in-loss"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
bins = 16
crops = torch.rand(400, 1, 16, 16)
coord = crops.mean(dim=(1, 2, 3)) * 2 - 1  # stand-in for the object coordinate in [-1, 1]

net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                    nn.Linear(128, bins))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 400, 20):
        output_coor = net(crops[i:i + 20])
        pred_bin = torch.argmax(output_coor, dim=1)
        pred = 2.0 * pred_bin.float() / (bins - 1) - 1.0
        loss = F.l1_loss(pred, coord[i:i + 20])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
bins = 16
crops = torch.rand(400, 1, 16, 16)
coord = crops.mean(dim=(1, 2, 3)) * 2 - 1  # stand-in for the object coordinate in [-1, 1]

net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                    nn.Linear(128, bins))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 400, 20):
        output_coor = net(crops[i:i + 20])
        target_bin = ((coord[i:i + 20] + 1) / 2 * (bins - 1)).round().long()
        loss = F.cross_entropy(output_coor, target_bin)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [16, 17, 18]
