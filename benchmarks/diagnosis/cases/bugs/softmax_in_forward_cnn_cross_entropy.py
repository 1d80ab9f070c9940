"""A CNN's forward ends with F.softmax and the loss is nn.CrossEntropyLoss; the loss does not decrease and stays at about 2.30."""

SOURCE = "https://discuss.pytorch.org/t/cross-entropy-loss-is-not-decreasing/43814"
CAUSE = "softmax-before-cross-entropy"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.randn(10, 1, 28, 28)
labels = torch.randint(0, 10, (3000,))
images = templates[labels] + 0.8 * torch.randn(3000, 1, 28, 28)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return F.softmax(self.fc2(x), dim=1)

model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(6):
    for i in range(0, 3000, 100):
        optimizer.zero_grad()
        loss = criterion(model(images[i:i + 100]), labels[i:i + 100])
        loss.backward()
        optimizer.step()
    print("epoch", epoch, "loss =", loss.item())'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.randn(10, 1, 28, 28)
labels = torch.randint(0, 10, (3000,))
images = templates[labels] + 0.8 * torch.randn(3000, 1, 28, 28)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)

model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(6):
    for i in range(0, 3000, 100):
        optimizer.zero_grad()
        loss = criterion(model(images[i:i + 100]), labels[i:i + 100])
        loss.backward()
        optimizer.step()
    print("epoch", epoch, "loss =", loss.item())'''
FIX_LINES = [22]
STEPS = 30
