"""Zeroing the border of an attention map in place (att[:, :, :, 0] = 0) after ReLU makes backward fail: a variable needed for gradient computation was modified by an inplace operation."""

SOURCE = "https://github.com/AggMan96/RK-Net/issues/9"
CAUSE = "inplace-modification"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class AttentionHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.att_conv = nn.Conv2d(8, 1, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        feat = F.relu(self.conv(x))
        att = F.relu(self.att_conv(feat))
        att[:, :, :, 0] = 0
        att[:, :, :, -1] = 0
        pooled = (feat * att).mean((2, 3))
        return self.fc(pooled)

net = AttentionHead()
x = torch.rand(256, 3, 12, 12)
y = x[:, 0].mean((1, 2)).mul(9).long().clamp(max=4)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(4):
    for i in range(0, 256, 16):
        loss = F.cross_entropy(net(x[i:i + 16]), y[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class AttentionHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.att_conv = nn.Conv2d(8, 1, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        feat = F.relu(self.conv(x))
        att = F.relu(self.att_conv(feat)).clone()
        att[:, :, :, 0] = 0
        att[:, :, :, -1] = 0
        pooled = (feat * att).mean((2, 3))
        return self.fc(pooled)

net = AttentionHead()
x = torch.rand(256, 3, 12, 12)
y = x[:, 0].mean((1, 2)).mul(9).long().clamp(max=4)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(4):
    for i in range(0, 256, 16):
        loss = F.cross_entropy(net(x[i:i + 16]), y[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [16]
