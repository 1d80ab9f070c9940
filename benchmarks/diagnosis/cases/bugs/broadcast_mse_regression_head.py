"""A regression head squeezes nothing: MSELoss warns that target size [32] differs from input size [32, 1] and the model predicts the mean."""

SOURCE = "https://github.com/deepset-ai/FARM/issues/229"
CAUSE = "loss-shape-broadcast"
CELL = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
features = torch.randn(2000, 12)
scores = features @ torch.randn(12) * 2 + 8  # a readability score per document, 0-16
X_val, y_val = features[1600:], scores[1600:]
train = DataLoader(TensorDataset(features[:1600], scores[:1600]), batch_size=32, shuffle=True)

head = nn.Sequential(nn.Linear(12, 64), nn.Tanh(), nn.Linear(64, 1))
loss_fn = nn.MSELoss()
optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
for epoch in range(3):
    for x, y in train:
        optimizer.zero_grad()
        pred = head(x)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
features = torch.randn(2000, 12)
scores = features @ torch.randn(12) * 2 + 8  # a readability score per document, 0-16
X_val, y_val = features[1600:], scores[1600:]
train = DataLoader(TensorDataset(features[:1600], scores[:1600]), batch_size=32, shuffle=True)

head = nn.Sequential(nn.Linear(12, 64), nn.Tanh(), nn.Linear(64, 1))
loss_fn = nn.MSELoss()
optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
for epoch in range(3):
    for x, y in train:
        optimizer.zero_grad()
        pred = head(x)
        loss = loss_fn(pred.squeeze(1), y)
        loss.backward()
        optimizer.step()'''
FIX_LINES = [18]
STEPS = 30
HELD = '((head(X_val).view(-1) - y_val) ** 2).mean().item()'
