"""The gradient of the 2-norm is NaN at zero: an embedding distance computed with a square root breaks down when two embeddings coincide."""

SOURCE = "https://github.com/pytorch/pytorch/issues/2421"
CAUSE = "sqrt-at-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
products = torch.randn(200, 24)
ids = torch.randint(0, 200, (4000,))
views = products[ids] + 0.1 * torch.randn(4000, 24)

encoder = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 8))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)

def contrastive(a, b, same, margin=2.0):
    d = torch.sqrt(((a - b) ** 2).sum(dim=1))
    return (same * d ** 2 + (1 - same) * torch.relu(margin - d) ** 2).mean()

for epoch in range(3):
    for i in range(0, 4000, 64):
        anchor_ids = ids[i:i + 64]
        other = torch.where(torch.rand(64) < 0.5, anchor_ids, ids[torch.randint(0, 4000, (64,))])
        a = encoder(products[anchor_ids])
        b = encoder(products[other])
        loss = contrastive(a, b, (anchor_ids == other).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
products = torch.randn(200, 24)
ids = torch.randint(0, 200, (4000,))
views = products[ids] + 0.1 * torch.randn(4000, 24)

encoder = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 8))
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)

def contrastive(a, b, same, margin=2.0):
    d = torch.sqrt(((a - b) ** 2).sum(dim=1) + 1e-12)
    return (same * d ** 2 + (1 - same) * torch.relu(margin - d) ** 2).mean()

for epoch in range(3):
    for i in range(0, 4000, 64):
        anchor_ids = ids[i:i + 64]
        other = torch.where(torch.rand(64) < 0.5, anchor_ids, ids[torch.randint(0, 4000, (64,))])
        a = encoder(products[anchor_ids])
        b = encoder(products[other])
        loss = contrastive(a, b, (anchor_ids == other).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [13]
STEPS = 20
