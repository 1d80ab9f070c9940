"""A custom linear layer computes torch.matmul(X, self.weight.data) + self.bias.data, so autograd never reaches weight and bias."""

SOURCE = "https://github.com/d2l-ai/d2l-en/pull/2600"
CAUSE = "data-in-forward"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)

class MyLinear(nn.Module):
    def __init__(self, in_units, units, relu=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units) / in_units ** 0.5)
        self.bias = nn.Parameter(torch.zeros(units))
        self.relu = relu

    def forward(self, X):
        linear = torch.matmul(X, self.weight.data) + self.bias.data
        return F.relu(linear) if self.relu else linear

net = nn.Sequential(MyLinear(20, 64), MyLinear(64, 1, relu=False))
X = torch.randn(1000, 20)
y = X[:, :5].sum(1, keepdim=True) - X[:, 5:8].abs().sum(1, keepdim=True)
trainer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(10):
    for i in range(0, 1000, 50):
        l = F.mse_loss(net(X[i:i + 50]), y[i:i + 50])
        trainer.zero_grad()
        l.backward()
        trainer.step()'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)

class MyLinear(nn.Module):
    def __init__(self, in_units, units, relu=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units) / in_units ** 0.5)
        self.bias = nn.Parameter(torch.zeros(units))
        self.relu = relu

    def forward(self, X):
        linear = torch.matmul(X, self.weight) + self.bias
        return F.relu(linear) if self.relu else linear

net = nn.Sequential(MyLinear(20, 64), MyLinear(64, 1, relu=False))
X = torch.randn(1000, 20)
y = X[:, :5].sum(1, keepdim=True) - X[:, 5:8].abs().sum(1, keepdim=True)
trainer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(10):
    for i in range(0, 1000, 50):
        l = F.mse_loss(net(X[i:i + 50]), y[i:i + 50])
        trainer.zero_grad()
        l.backward()
        trainer.step()'''
FIX_LINES = [15]
STEPS = 40
