"""Thresholded predictions (torch.round of the sigmoid) are fed to the loss; argmax/round have no useful gradient, so the network cannot learn from that loss."""

SOURCE = "https://github.com/pytorch/pytorch/issues/1339"
CAUSE = "argmax-in-loss"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(1000, 10)
y = ((X[:, 0] * X[:, 1] > 0) | (X[:, 2] > 1)).float().unsqueeze(1)

clf = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
bce = nn.BCELoss()
optimizer = torch.optim.Adam(clf.parameters(), lr=1e-2)
for epoch in range(10):
    for i in range(0, 1000, 50):
        prob = torch.sigmoid(clf(X[i:i + 50]))
        pred = torch.round(prob)
        loss = bce(pred, y[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(1000, 10)
y = ((X[:, 0] * X[:, 1] > 0) | (X[:, 2] > 1)).float().unsqueeze(1)

clf = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
bce = nn.BCELoss()
optimizer = torch.optim.Adam(clf.parameters(), lr=1e-2)
for epoch in range(10):
    for i in range(0, 1000, 50):
        prob = torch.sigmoid(clf(X[i:i + 50]))
        pred = torch.round(prob)
        loss = bce(prob, y[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [15]
STEPS = 30
HELD = '(((torch.sigmoid(clf(X)) > 0.5).float() != y).float().mean().item())'
