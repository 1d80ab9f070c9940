"""Freezing layers by name matches nothing that was meant to train: only the BatchNorm weights keep requires_grad, and the model barely learns."""

SOURCE = "https://github.com/CSCYQJ/MICCAI23-ProtoContra-SFDA/issues/18"
CAUSE = "wrong-layers-frozen"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential()
model.add_module("conv1", nn.Conv2d(1, 16, 3, padding=1))
model.add_module("bn1", nn.BatchNorm2d(16))
model.add_module("relu", nn.ReLU())
model.add_module("pool", nn.AdaptiveAvgPool2d(1))
model.add_module("flat", nn.Flatten())
model.add_module("classifier", nn.Linear(16, 6))

# fine-tune: freeze the feature extractor, train the head and the norm layers
for name, p in model.named_parameters():
    p.requires_grad = ("bn" in name) or name.startswith("head")

y = torch.randint(0, 6, (1200,))
x = 0.4 * y.float().view(-1, 1, 1, 1) + 0.5 * torch.randn(1200, 1, 12, 12)  # six exposure levels
optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
for epoch in range(3):
    for i in range(0, 1200, 40):
        loss = F.cross_entropy(model(x[i:i + 40]), y[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential()
model.add_module("conv1", nn.Conv2d(1, 16, 3, padding=1))
model.add_module("bn1", nn.BatchNorm2d(16))
model.add_module("relu", nn.ReLU())
model.add_module("pool", nn.AdaptiveAvgPool2d(1))
model.add_module("flat", nn.Flatten())
model.add_module("classifier", nn.Linear(16, 6))

# fine-tune: freeze the feature extractor, train the head and the norm layers
for name, p in model.named_parameters():
    p.requires_grad = ("bn" in name) or name.startswith("classifier")

y = torch.randint(0, 6, (1200,))
x = 0.4 * y.float().view(-1, 1, 1, 1) + 0.5 * torch.randn(1200, 1, 12, 12)  # six exposure levels
optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
for epoch in range(3):
    for i in range(0, 1200, 40):
        loss = F.cross_entropy(model(x[i:i + 40]), y[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [16]
STEPS = 30
