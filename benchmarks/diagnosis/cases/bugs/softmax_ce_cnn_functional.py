"""A small CNN returns F.softmax(x, dim=1) from forward and is trained with CrossEntropyLoss; it converges much more slowly than without the softmax."""

SOURCE = "https://github.com/amdegroot/ssd.pytorch/issues/218"
CAUSE = "softmax-before-cross-entropy"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
n = 1024
y = torch.randint(0, 4, (n,))
x = 0.5 * torch.randn(n, 1, 12, 12)
for k in range(4):  # each class lights up one quadrant
    r, c = divmod(k, 2)
    x[y == k, :, 6 * r:6 * r + 6, 6 * c:6 * c + 6] += 1.0

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 3 * 3, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.fc(x.flatten(1))
        return F.softmax(x, dim=1)

net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
for epoch in range(3):
    perm = torch.randperm(n)
    for i in range(0, n, 32):
        idx = perm[i:i + 32]
        optimizer.zero_grad()
        loss = criterion(net(x[idx]), y[idx])
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
n = 1024
y = torch.randint(0, 4, (n,))
x = 0.5 * torch.randn(n, 1, 12, 12)
for k in range(4):  # each class lights up one quadrant
    r, c = divmod(k, 2)
    x[y == k, :, 6 * r:6 * r + 6, 6 * c:6 * c + 6] += 1.0

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 3 * 3, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.fc(x.flatten(1))
        return x

net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
for epoch in range(3):
    perm = torch.randperm(n)
    for i in range(0, n, 32):
        idx = perm[i:i + 32]
        optimizer.zero_grad()
        loss = criterion(net(x[idx]), y[idx])
        loss.backward()
        optimizer.step()'''
FIX_LINES = [24]
STEPS = 20
