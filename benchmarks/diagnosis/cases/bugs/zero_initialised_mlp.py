"""All weights of the network are initialised to zeros, which the reviewer calls a highly improper initialization: every neuron computes the same thing."""

SOURCE = "https://github.com/wagonhelm/NaNmnist/issues/2"
CAUSE = "constant-init"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
digits = torch.rand(10, 784)
y = torch.randint(0, 10, (3000,))
x = (digits[y] + 0.3 * torch.randn(3000, 784)).clamp(0, 1)

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 64)
        self.out = nn.Linear(64, 10)
        for layer in (self.hidden, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.out(torch.sigmoid(self.hidden(x)))

model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(3):
    for i in range(0, 3000, 100):
        loss = F.cross_entropy(model(x[i:i + 100]), y[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
digits = torch.rand(10, 784)
y = torch.randint(0, 10, (3000,))
x = (digits[y] + 0.3 * torch.randn(3000, 784)).clamp(0, 1)

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        return self.out(torch.sigmoid(self.hidden(x)))

model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(3):
    for i in range(0, 3000, 100):
        loss = F.cross_entropy(model(x[i:i + 100]), y[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [15, 16, 17]
STEPS = 30
