"""An intermediate result is .detach()-ed inside forward (in the report, the adjacency built from W_phi and W_theta), so the weights that produce it are never updated."""

SOURCE = "https://github.com/queenie88/A-GCN/issues/4"
CAUSE = "detach-in-forward"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
basis = torch.randn(3, 32)
data = torch.randn(3000, 3) @ basis + 0.05 * torch.randn(3000, 32)

class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))
        self.decoder = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32))

    def forward(self, x):
        code = self.encoder(x).detach()
        return self.decoder(code)

ae = AutoEncoder()
opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
for epoch in range(5):
    for batch in data.split(100):
        recon = ae(batch)
        loss = ((recon - batch) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
basis = torch.randn(3, 32)
data = torch.randn(3000, 3) @ basis + 0.05 * torch.randn(3000, 32)

class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))
        self.decoder = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32))

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code)

ae = AutoEncoder()
opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
for epoch in range(5):
    for batch in data.split(100):
        recon = ae(batch)
        loss = ((recon - batch) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX_LINES = [15]
STEPS = 40
