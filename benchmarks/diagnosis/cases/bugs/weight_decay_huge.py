"""Jacking up the weight decay to fight overfitting: at a large enough value the weights shrink faster than the gradient can grow them and the model underfits."""

SOURCE = "https://github.com/fastai/fastai/issues/1806"
CAUSE = "weight-decay-too-large"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
breeds = torch.randn(12, 96)
y = torch.randint(0, 12, (2400,))
x = breeds[y] + torch.randn(2400, 96)
dl = DataLoader(TensorDataset(x, y), batch_size=48, shuffle=True)

learn_model = nn.Sequential(nn.Linear(96, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 12))
opt = torch.optim.SGD(learn_model.parameters(), lr=0.05, momentum=0.9, weight_decay=1.0)
for epoch in range(4):
    for xb, yb in dl:
        loss = F.cross_entropy(learn_model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
breeds = torch.randn(12, 96)
y = torch.randint(0, 12, (2400,))
x = breeds[y] + torch.randn(2400, 96)
dl = DataLoader(TensorDataset(x, y), batch_size=48, shuffle=True)

learn_model = nn.Sequential(nn.Linear(96, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 12))
opt = torch.optim.SGD(learn_model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
for epoch in range(4):
    for xb, yb in dl:
        loss = F.cross_entropy(learn_model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX_LINES = [13]
STEPS = 30
