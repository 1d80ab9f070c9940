"""The loop fetches data = next(iter(val_loader)) at every step; with shuffle=False this returns the same first batch every time."""

SOURCE = "https://github.com/wandb/examples/issues/444"
CAUSE = "same-batch-every-step"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
points = torch.randn(4000, 64, 3)
labels = (points[:, :, 0].std(1) > 1).long() + (points[:, :, 1].mean(1) > 0).long()
X_val, y_val = points[3500:], labels[3500:]
train_loader = DataLoader(TensorDataset(points[:3500], labels[:3500]), batch_size=16, shuffle=False)

class PointNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        return self.head(self.mlp(x).max(dim=1).values)

model = PointNetLike()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for batch_idx in range(len(train_loader)):
    data, target = next(iter(train_loader))
    loss = nn.functional.cross_entropy(model(data), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
points = torch.randn(4000, 64, 3)
labels = (points[:, :, 0].std(1) > 1).long() + (points[:, :, 1].mean(1) > 0).long()
X_val, y_val = points[3500:], labels[3500:]
train_loader = DataLoader(TensorDataset(points[:3500], labels[:3500]), batch_size=16, shuffle=False)

class PointNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        return self.head(self.mlp(x).max(dim=1).values)

model = PointNetLike()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for batch_idx, (data, target) in enumerate(train_loader):
    loss = nn.functional.cross_entropy(model(data), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [22, 23]
STEPS = 60
HELD = '1 - (model(X_val).argmax(1) == y_val).float().mean().item()'
