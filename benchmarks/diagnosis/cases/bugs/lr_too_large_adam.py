"""Training loss becomes NaN after a few iterations; the answer: the training loss is NaN when the learning rate is large."""

SOURCE = "https://github.com/CharlieDinh/pFedMe/issues/11"
CAUSE = "lr-too-large"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
prototypes = torch.rand(10, 1, 8, 8)
y = torch.randint(0, 10, (2000,))
x = prototypes[y] + 0.2 * torch.randn(2000, 1, 8, 8)
trainloader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True)

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv(x)).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))

model = CNN()
optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
for local_epoch in range(20):
    for X, Y in trainloader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
prototypes = torch.rand(10, 1, 8, 8)
y = torch.randint(0, 10, (2000,))
x = prototypes[y] + 0.2 * torch.randn(2000, 1, 8, 8)
trainloader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True)

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv(x)).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))

model = CNN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for local_epoch in range(20):
    for X, Y in trainloader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        optimizer.step()'''
FIX_LINES = [24]
STEPS = 20
