"""After 'element 0 of tensors does not require grad' the user sets loss.requires_grad = True; the error goes away but the loss never declines."""

SOURCE = "https://github.com/ronghuaiyang/arcface-pytorch/issues/56"
CAUSE = "loss-rebuilt-from-item"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
identities = torch.randn(50, 64)
labels = torch.randint(0, 50, (2500,))
faces = identities[labels] + 0.4 * torch.randn(2500, 64)

backbone = nn.Sequential(nn.Linear(64, 128), nn.PReLU(), nn.Linear(128, 32))
metric_fc = nn.Linear(32, 50, bias=False)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD([{"params": backbone.parameters()}, {"params": metric_fc.parameters()}],
                            lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 2500, 64):
        feature = backbone(faces[i:i + 64])
        output = metric_fc(F.normalize(feature)) * 16
        loss = criterion(output, labels[i:i + 64]).item()
        loss = torch.tensor(loss)
        loss.requires_grad = True
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
identities = torch.randn(50, 64)
labels = torch.randint(0, 50, (2500,))
faces = identities[labels] + 0.4 * torch.randn(2500, 64)

backbone = nn.Sequential(nn.Linear(64, 128), nn.PReLU(), nn.Linear(128, 32))
metric_fc = nn.Linear(32, 50, bias=False)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD([{"params": backbone.parameters()}, {"params": metric_fc.parameters()}],
                            lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 2500, 64):
        feature = backbone(faces[i:i + 64])
        output = metric_fc(F.normalize(feature)) * 16
        loss = criterion(output, labels[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [19, 20, 21]
STEPS = 20
