"""The training step calls optimizer.step() without ever calling optimizer.zero_grad(), so gradients accumulate across batches."""

SOURCE = "https://github.com/wenet-e2e/wekws/issues/72"
CAUSE = "missing-zero-grad"
CELL = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(2000, 10)
y = X @ torch.randn(10, 1) + 0.1 * torch.randn(2000, 1)
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True)

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

def train_one_epoch(model, loader):
    for x, target in loader:
        output = model(x)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()

for epoch in range(5):
    train_one_epoch(model, loader)'''
FIX = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(2000, 10)
y = X @ torch.randn(10, 1) + 0.1 * torch.randn(2000, 1)
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True)

model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

def train_one_epoch(model, loader):
    for x, target in loader:
        output = model(x)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

for epoch in range(5):
    train_one_epoch(model, loader)'''
FIX_LINES = [17, 18]
STEPS = 20
