"""After the optimizer is built, the model's last layer is replaced for fine-tuning; the new layer's parameters are not in the optimizer and stay at their initial values."""

SOURCE = "https://github.com/microsoft/nni/issues/4521"
CAUSE = "optimizer-on-stale-model"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))

model = SmallCNN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
model.fc = nn.Linear(64, 5)  # our dataset has 5 classes

colors = torch.rand(5, 3, 1, 1)
y = torch.randint(0, 5, (640,))
x = colors[y] + 0.3 * torch.randn(640, 3, 8, 8)
for epoch in range(3):
    for i in range(0, 640, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))

model = SmallCNN()
model.fc = nn.Linear(64, 5)  # our dataset has 5 classes
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

colors = torch.rand(5, 3, 1, 1)
y = torch.randint(0, 5, (640,))
x = colors[y] + 0.3 * torch.randn(640, 3, 8, 8)
for epoch in range(3):
    for i in range(0, 640, 32):
        loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [18]
STEPS = 30
