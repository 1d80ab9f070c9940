"""Uniform-fill weight initialisation in a multi-layer classifier makes all units identical: the gradients collapse and the loss plateaus at ln(num_classes)."""

SOURCE = "https://github.com/HomericIntelligence/Mnemosyne/pull/1987"
CAUSE = "constant-init"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
num_classes = 8
X = torch.randn(2400, 20)
y = (X[:, :num_classes] + 0.5 * X[:, num_classes:2 * num_classes]).argmax(1)

model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, num_classes))
for m in model.modules():
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.05)
        nn.init.constant_(m.bias, 0.0)

optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 2400, 80):
        loss = nn.functional.cross_entropy(model(X[i:i + 80]), y[i:i + 80])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
num_classes = 8
X = torch.randn(2400, 20)
y = (X[:, :num_classes] + 0.5 * X[:, num_classes:2 * num_classes]).argmax(1)

model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, num_classes))
for m in model.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_uniform_(m.weight, nonlinearity='relu')
        nn.init.constant_(m.bias, 0.0)

optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 2400, 80):
        loss = nn.functional.cross_entropy(model(X[i:i + 80]), y[i:i + 80])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12]
STEPS = 30
