"""Switching BatchNorm layers to eval() during training (to 'disable' them for one pass) makes the training diverge: the running statistics are used instead of the batch's."""

SOURCE = "https://github.com/davda54/sam/issues/30"
CAUSE = "eval-mode-while-training"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(3000, 20) * 20 + 3  # sensor readings, not standardised
y = (X[:, 0] - X[:, 1] > 0).long() + (X[:, 2] > 3).long()

model = nn.Sequential(
    nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(),
    nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
    nn.Linear(64, 3),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

def check_untrained_accuracy():
    model.eval()
    with torch.no_grad():
        return (model(X[:500]).argmax(1) == y[:500]).float().mean().item()

print("accuracy before training:", check_untrained_accuracy())
for epoch in range(3):
    for i in range(0, 3000, 60):
        loss = F.cross_entropy(model(X[i:i + 60]), y[i:i + 60])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(3000, 20) * 20 + 3  # sensor readings, not standardised
y = (X[:, 0] - X[:, 1] > 0).long() + (X[:, 2] > 3).long()

model = nn.Sequential(
    nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(),
    nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
    nn.Linear(64, 3),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

def check_untrained_accuracy():
    model.eval()
    with torch.no_grad():
        return (model(X[:500]).argmax(1) == y[:500]).float().mean().item()

print("accuracy before training:", check_untrained_accuracy())
model.train()
for epoch in range(3):
    for i in range(0, 3000, 60):
        loss = F.cross_entropy(model(X[i:i + 60]), y[i:i + 60])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21, 22]
STEPS = 30
