"""A new learnable parameter is added to the model but only an explicit list of modules is passed to the optimizer, so the new parameter never trains."""

SOURCE = "https://github.com/ACEsuit/mace/issues/525"
CAUSE = "params-missing-from-optimizer"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)

class EnergyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Linear(10, 32)
        self.readout = nn.Linear(32, 1)
        self.atomic_energies = nn.Parameter(torch.zeros(10))  # new: one reference energy per element

    def forward(self, counts):
        return self.readout(torch.tanh(self.embedding(counts))).squeeze(1) + counts @ self.atomic_energies

counts = torch.randint(0, 5, (2000, 10)).float()
energy = counts @ torch.randn(10) * 2 + torch.randn(2000) * 0.1
model = EnergyModel()
optimizer = torch.optim.Adam([
    {"params": model.embedding.parameters(), "weight_decay": 1e-5},
    {"params": model.readout.parameters(), "weight_decay": 0.0},
], lr=0.05)
for epoch in range(10):
    for i in range(0, 1600, 100):
        loss = ((model(counts[i:i + 100]) - energy[i:i + 100]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)

class EnergyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Linear(10, 32)
        self.readout = nn.Linear(32, 1)
        self.atomic_energies = nn.Parameter(torch.zeros(10))  # new: one reference energy per element

    def forward(self, counts):
        return self.readout(torch.tanh(self.embedding(counts))).squeeze(1) + counts @ self.atomic_energies

counts = torch.randint(0, 5, (2000, 10)).float()
energy = counts @ torch.randn(10) * 2 + torch.randn(2000) * 0.1
model = EnergyModel()
optimizer = torch.optim.Adam([
    {"params": model.embedding.parameters(), "weight_decay": 1e-5},
    {"params": model.readout.parameters(), "weight_decay": 0.0},
    {"params": [model.atomic_energies], "weight_decay": 0.0},
], lr=0.05)
for epoch in range(10):
    for i in range(0, 1600, 100):
        loss = ((model(counts[i:i + 100]) - energy[i:i + 100]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21, 22]
STEPS = 40
HELD = '((model(counts[1600:]) - energy[1600:]) ** 2).mean().item()'
