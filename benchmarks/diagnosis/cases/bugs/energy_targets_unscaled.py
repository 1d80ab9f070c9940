"""Multi-property training works but the loss value is very large (hundreds of millions) and falls slowly; the data was not normalised."""

SOURCE = "https://github.com/atomistic-machine-learning/schnetpack/issues/336"
CAUSE = "unnormalised-targets"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n_mol = 3000
composition = torch.randint(0, 6, (n_mol, 4)).float()  # counts of H, C, N, O
energy = composition @ torch.tensor([-313.5, -23893.0, -34362.0, -47037.0]) + 20 * torch.randn(n_mol)

model = nn.Sequential(nn.Linear(4, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, n_mol, 50):
        pred = model(composition[i:i + 50]).squeeze(1)
        loss = ((pred - energy[i:i + 50]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n_mol = 3000
composition = torch.randint(0, 6, (n_mol, 4)).float()  # counts of H, C, N, O
energy = composition @ torch.tensor([-313.5, -23893.0, -34362.0, -47037.0]) + 20 * torch.randn(n_mol)
energy = (energy - energy.mean()) / energy.std()

model = nn.Sequential(nn.Linear(4, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, n_mol, 50):
        pred = model(composition[i:i + 50]).squeeze(1)
        loss = ((pred - energy[i:i + 50]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [7, 8]
STEPS = 40
