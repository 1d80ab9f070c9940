"""A PointNet-style classifier feeds softmax scores into F.nll_loss, so the label loss goes negative."""

SOURCE = "https://github.com/yanx27/Pointnet_Pointnet2_pytorch/issues/30"
CAUSE = "nll-on-probabilities"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)

def shapes(n, points=128):
    labels = torch.randint(0, 8, (n,))
    scale = 0.5 + 0.2 * labels.float()  # eight sizes of the same blob
    pts = torch.randn(n, points, 3)
    pts = pts / pts.norm(dim=2, keepdim=True) * scale[:, None, None]
    return pts + 0.05 * torch.randn(n, points, 3), labels

X_train, y_train = shapes(1024)
X_val, y_val = shapes(256)

class PointNet(nn.Module):
    def __init__(self, k=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, k))

    def forward(self, pts):
        feat = self.mlp(pts).max(dim=1).values
        return F.softmax(self.head(feat), dim=-1)

model = PointNet()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(10):
    for i in range(0, len(X_train), 32):
        pred = model(X_train[i:i + 32])
        loss = F.nll_loss(pred, y_train[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)

def shapes(n, points=128):
    labels = torch.randint(0, 8, (n,))
    scale = 0.5 + 0.2 * labels.float()  # eight sizes of the same blob
    pts = torch.randn(n, points, 3)
    pts = pts / pts.norm(dim=2, keepdim=True) * scale[:, None, None]
    return pts + 0.05 * torch.randn(n, points, 3), labels

X_train, y_train = shapes(1024)
X_val, y_val = shapes(256)

class PointNet(nn.Module):
    def __init__(self, k=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, k))

    def forward(self, pts):
        feat = self.mlp(pts).max(dim=1).values
        return F.log_softmax(self.head(feat), dim=-1)

model = PointNet()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(10):
    for i in range(0, len(X_train), 32):
        pred = model(X_train[i:i + 32])
        loss = F.nll_loss(pred, y_train[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [25]
STEPS = 30
HELD = '1 - (model(X_val).argmax(1) == y_val).float().mean().item()'
