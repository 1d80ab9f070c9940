"""A segmentation net returns F.sigmoid(d1) while train.py uses BCEWithLogitsLoss; sigmoid is applied twice and the loss does not decrease."""

SOURCE = "https://github.com/avBuffer/UNet3plus_pth/issues/23"
CAUSE = "sigmoid-before-bce-with-logits"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
imgs = torch.rand(256, 1, 16, 16)
masks = (F.avg_pool2d(imgs, 3, 1, 1) > 0.5).float()

class TinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(16, 1, 1)

    def forward(self, x):
        e = self.enc(x)
        d = self.up(self.down(e))
        d1 = self.out(torch.cat([e, d], dim=1))
        return F.sigmoid(d1)

net = TinyUNet()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(5):
    for img, mask in DataLoader(TensorDataset(imgs, masks), batch_size=16, shuffle=True):
        pred = net(img)
        loss = criterion(pred, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
imgs = torch.rand(256, 1, 16, 16)
masks = (F.avg_pool2d(imgs, 3, 1, 1) > 0.5).float()

class TinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(16, 1, 1)

    def forward(self, x):
        e = self.enc(x)
        d = self.up(self.down(e))
        d1 = self.out(torch.cat([e, d], dim=1))
        return d1

net = TinyUNet()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(5):
    for img, mask in DataLoader(TensorDataset(imgs, masks), batch_size=16, shuffle=True):
        pred = net(img)
        loss = criterion(pred, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [22]
STEPS = 60
