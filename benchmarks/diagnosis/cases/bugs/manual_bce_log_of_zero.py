"""A hand-written binary cross-entropy on sigmoid outputs returns nan; the suggested fix is to add eps inside torch.log."""

SOURCE = "https://github.com/NVIDIA/apex/issues/358"
CAUSE = "log-of-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
x = torch.randn(2000, 30) * 4
y_true = (x[:, :5].sum(1) > 0).float()

net = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

def criterion(y_pred, y_true, gamma=0.0):
    loss = torch.sum(y_true * torch.pow(1 - y_pred, gamma) * torch.log(y_pred)
                     + (1 - y_true) * torch.pow(y_pred, gamma) * torch.log(1 - y_pred))
    return -1.0 * loss / y_pred.size(0)

for epoch in range(3):
    for i in range(0, 2000, 32):
        y_pred = torch.sigmoid(net(x[i:i + 32])).squeeze(1)
        loss = criterion(y_pred, y_true[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
x = torch.randn(2000, 30) * 4
y_true = (x[:, :5].sum(1) > 0).float()

net = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

def criterion(y_pred, y_true, gamma=0.0):
    loss = torch.sum(y_true * torch.pow(1 - y_pred, gamma) * torch.log(y_pred)
                     + (1 - y_true) * torch.pow(y_pred, gamma) * torch.log(1 - y_pred))
    return -1.0 * loss / y_pred.size(0)

for epoch in range(3):
    for i in range(0, 2000, 32):
        y_pred = torch.sigmoid(net(x[i:i + 32])).squeeze(1).clamp(1e-7, 1 - 1e-7)
        loss = criterion(y_pred, y_true[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [18]
STEPS = 30
