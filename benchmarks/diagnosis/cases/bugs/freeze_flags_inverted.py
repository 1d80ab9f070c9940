"""The layers listed to be frozen get requires_grad = True and all the others get False, so only the layers meant to stay fixed are trained."""

SOURCE = "https://github.com/wannabeOG/MAS-PyTorch/issues/1"
CAUSE = "wrong-layers-frozen"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(2048, 16)
y = (X @ torch.randn(16) > 0).long()

model = nn.Sequential(
    nn.Linear(16, 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2),
)
nn.init.zeros_(model[4].weight)  # the new task's head starts from zero
nn.init.zeros_(model[4].bias)
frozen_layers = ["0.weight", "0.bias"]
for name, param in model.named_parameters():
    if name in frozen_layers:
        param.requires_grad = True
    else:
        param.requires_grad = False

optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(5):
    for i in range(0, 2048, 64):
        optimizer.zero_grad()
        loss = criterion(model(X[i:i + 64]), y[i:i + 64])
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(2048, 16)
y = (X @ torch.randn(16) > 0).long()

model = nn.Sequential(
    nn.Linear(16, 64), nn.ReLU(),
    nn.Linear(64, 64), nn.ReLU(),
    nn.Linear(64, 2),
)
nn.init.zeros_(model[4].weight)  # the new task's head starts from zero
nn.init.zeros_(model[4].bias)
frozen_layers = ["0.weight", "0.bias"]
for name, param in model.named_parameters():
    if name in frozen_layers:
        param.requires_grad = False
    else:
        param.requires_grad = True

optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(5):
    for i in range(0, 2048, 64):
        optimizer.zero_grad()
        loss = criterion(model(X[i:i + 64]), y[i:i + 64])
        loss.backward()
        optimizer.step()'''
FIX_LINES = [18, 20]
STEPS = 40
