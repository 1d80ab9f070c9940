"""A training loop takes each batch with iter(loader).next() inside a while loop; a fresh iterator every time returns the first batch again and again."""

SOURCE = "https://github.com/ZhaoJ9014/face.evoLVe/pull/39"
CAUSE = "same-batch-every-step"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
centers = torch.randn(10, 32) * 2
labels = torch.randint(0, 10, (3000,))
features = centers[labels] + torch.randn(3000, 32) * 1.5
X_val, y_val = features[-500:], labels[-500:]
loader = DataLoader(TensorDataset(features[:-500], labels[:-500]), batch_size=32)

model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
batch_size = 32
for epoch in range(2):
    idx = 0
    while idx + batch_size <= len(loader.dataset):
        batch, target = next(iter(loader))
        loss = criterion(model(batch), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        idx += batch_size'''
FIX = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
centers = torch.randn(10, 32) * 2
labels = torch.randint(0, 10, (3000,))
features = centers[labels] + torch.randn(3000, 32) * 1.5
X_val, y_val = features[-500:], labels[-500:]
loader = DataLoader(TensorDataset(features[:-500], labels[:-500]), batch_size=32)

model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
batch_size = 32
for epoch in range(2):
    idx = 0
    batches = iter(loader)
    while idx + batch_size <= len(loader.dataset):
        batch, target = next(batches)
        loss = criterion(model(batch), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        idx += batch_size'''
FIX_LINES = [19]
STEPS = 30
HELD = "nn.functional.cross_entropy(model(X_val), y_val).item()"
