"""With an L2 regularisation weight of 0.1 added to the loss the decision boundary is far too simple ('too much'), compared with 0.001."""

SOURCE = "https://github.com/leonardoaraujosantos/DLMatFramework/issues/1"
CAUSE = "penalty-dominates"
CELL = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 1500
t = torch.rand(n) * 3 * math.pi
spiral = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 5
y = torch.randint(0, 2, (n,))
X = torch.where(y[:, None] == 1, spiral, -spiral) + 0.1 * torch.randn(n, 2)

model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
reg = 0.1
for epoch in range(10):
    for i in range(0, n, 50):
        data_loss = nn.functional.cross_entropy(model(X[i:i + 50]), y[i:i + 50])
        reg_loss = 0.5 * reg * sum((p ** 2).sum() for name, p in model.named_parameters() if "weight" in name)
        loss = data_loss + reg_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 1500
t = torch.rand(n) * 3 * math.pi
spiral = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 5
y = torch.randint(0, 2, (n,))
X = torch.where(y[:, None] == 1, spiral, -spiral) + 0.1 * torch.randn(n, 2)

model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
reg = 0.001
for epoch in range(10):
    for i in range(0, n, 50):
        data_loss = nn.functional.cross_entropy(model(X[i:i + 50]), y[i:i + 50])
        reg_loss = 0.5 * reg * sum((p ** 2).sum() for name, p in model.named_parameters() if "weight" in name)
        loss = data_loss + reg_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [14]
STEPS = 40
HELD = 'nn.functional.cross_entropy(model(X), y).item()'
