"""'Expected more than 1 value per channel when training' after the first epoch: the training DataLoader does not use drop_last=True and its last batch has a single sample."""

SOURCE = "https://github.com/fastai/fastai/issues/1352"
CAUSE = "batchnorm-batch-of-one"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(97, 32)
y = (x[:, 0] > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

head = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 2))
optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
for epoch in range(5):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(head(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(97, 32)
y = (x[:, 0] > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, drop_last=True)

head = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 2))
optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
for epoch in range(5):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(head(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [8]
