"""A BPR model's forward returns the per-example log-likelihood terms, and loss.backward() fails with 'grad can be implicitly created only for scalar outputs'."""

SOURCE = "https://github.com/sh0416/bpr/issues/13"
CAUSE = "backward-non-scalar"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class BPR(nn.Module):
    def __init__(self, user_size, item_size, dim, weight_decay):
        super().__init__()
        self.W = nn.Parameter(torch.randn(user_size, dim) * 0.1)
        self.H = nn.Parameter(torch.randn(item_size, dim) * 0.1)
        self.weight_decay = weight_decay

    def forward(self, u, i, j):
        x_ui = (self.W[u] * self.H[i]).sum(dim=1)
        x_uj = (self.W[u] * self.H[j]).sum(dim=1)
        log_prob = F.logsigmoid(x_ui - x_uj)
        regularization = self.weight_decay * (self.W[u].norm(dim=1) ** 2 + self.H[i].norm(dim=1) ** 2)
        return -log_prob + regularization

model = BPR(100, 200, 16, 1e-4)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
taste = torch.randn(100, 4) @ torch.randn(4, 200)
for step in range(100):
    u = torch.randint(0, 100, (64,))
    a, b = torch.randint(0, 200, (64,)), torch.randint(0, 200, (64,))
    prefer_a = taste[u, a] > taste[u, b]
    i, j = torch.where(prefer_a, a, b), torch.where(prefer_a, b, a)
    loss = model(u, i, j)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

class BPR(nn.Module):
    def __init__(self, user_size, item_size, dim, weight_decay):
        super().__init__()
        self.W = nn.Parameter(torch.randn(user_size, dim) * 0.1)
        self.H = nn.Parameter(torch.randn(item_size, dim) * 0.1)
        self.weight_decay = weight_decay

    def forward(self, u, i, j):
        x_ui = (self.W[u] * self.H[i]).sum(dim=1)
        x_uj = (self.W[u] * self.H[j]).sum(dim=1)
        log_prob = F.logsigmoid(x_ui - x_uj)
        regularization = self.weight_decay * (self.W[u].norm(dim=1) ** 2 + self.H[i].norm(dim=1) ** 2)
        return (-log_prob + regularization).mean()

model = BPR(100, 200, 16, 1e-4)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
taste = torch.randn(100, 4) @ torch.randn(4, 200)
for step in range(100):
    u = torch.randint(0, 100, (64,))
    a, b = torch.randint(0, 200, (64,)), torch.randint(0, 200, (64,))
    prefer_a = taste[u, a] > taste[u, b]
    i, j = torch.where(prefer_a, a, b), torch.where(prefer_a, b, a)
    loss = model(u, i, j)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [19]
STEPS = 40
