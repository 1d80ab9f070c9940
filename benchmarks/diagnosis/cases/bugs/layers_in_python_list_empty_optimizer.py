"""A network whose number of layers is an argument stores its layers in a Python list; the module has no parameters and the optimizer gets an empty list."""

SOURCE = "https://github.com/pytorch/pytorch/issues/666"
CAUSE = "layers-in-python-list"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self, num_layers, width=32):
        super().__init__()
        sizes = [8] + [width] * num_layers + [1]
        self.list_of_layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, x):
        for layer in self.list_of_layers[:-1]:
            x = torch.relu(layer(x))
        return self.list_of_layers[-1](x)

n = Net(4)
x = torch.randn(512, 8)
y = x[:, :4].sum(1, keepdim=True) - x[:, 4:].abs().sum(1, keepdim=True)
optimizer = torch.optim.Adam(n.parameters(), lr=1e-3)
for epoch in range(20):
    for xb, yb in zip(x.split(64), y.split(64)):
        loss = nn.functional.mse_loss(n(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self, num_layers, width=32):
        super().__init__()
        sizes = [8] + [width] * num_layers + [1]
        self.list_of_layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, x):
        for layer in self.list_of_layers[:-1]:
            x = torch.relu(layer(x))
        return self.list_of_layers[-1](x)

n = Net(4)
x = torch.randn(512, 8)
y = x[:, :4].sum(1, keepdim=True) - x[:, 4:].abs().sum(1, keepdim=True)
optimizer = torch.optim.Adam(n.parameters(), lr=1e-3)
for epoch in range(20):
    for xb, yb in zip(x.split(64), y.split(64)):
        loss = nn.functional.mse_loss(n(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [10]
