"""A model class with its own train_step (forward, loss, backward, optimizer step) never zeroes the gradients, and training results are terrible."""

SOURCE = "https://github.com/fchollet/deep-learning-with-python-notebooks/issues/293"
CAUSE = "missing-zero-grad"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(2048, 32)
true_w = torch.randn(32, 4)
y = (X @ true_w).argmax(1)

class CustomModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    def forward(self, x):
        return self.body(x)

    def train_step(self, x, y):
        logits = self(x)
        loss = self.loss_fn(logits, y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

model = CustomModel()
for epoch in range(3):
    for i in range(0, 2048, 64):
        loss = model.train_step(X[i:i + 64], y[i:i + 64])
    print(epoch, loss)'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(2048, 32)
true_w = torch.randn(32, 4)
y = (X @ true_w).argmax(1)

class CustomModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    def forward(self, x):
        return self.body(x)

    def train_step(self, x, y):
        self.zero_grad()
        logits = self(x)
        loss = self.loss_fn(logits, y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

model = CustomModel()
for epoch in range(3):
    for i in range(0, 2048, 64):
        loss = model.train_step(X[i:i + 64], y[i:i + 64])
    print(epoch, loss)'''
FIX_LINES = [19, 20]
STEPS = 30
