"""Triplet losses are summed per sub-batch into a zero tensor made with requires_grad=True, each through .item(); backward() runs, the embedding never trains."""

SOURCE = "https://github.com/roman-vygon/triplet_loss_kws/issues/6"
CAUSE = "loss-rebuilt-from-item"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
keywords = torch.randn(12, 40)
words = torch.randint(0, 12, (1536,))
clips = keywords[words] + 0.5 * torch.randn(1536, 40)

embed = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 16))
optimizer = torch.optim.Adam(embed.parameters(), lr=1e-2)
for i in range(0, 1536, 48):
    w = words[i:i + 48]
    anchor = clips[i:i + 48]
    positive = keywords[w] + 0.5 * torch.randn(48, 40)
    negative = keywords[(w + torch.randint(1, 12, (48,))) % 12] + 0.5 * torch.randn(48, 40)
    total = torch.zeros((), requires_grad=True)
    for a, p, n in zip(anchor.split(16), positive.split(16), negative.split(16)):
        ea, ep, en = F.normalize(embed(a)), F.normalize(embed(p)), F.normalize(embed(n))
        total = total + F.triplet_margin_loss(ea, ep, en, margin=0.5).item()
    loss = total / 3
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
keywords = torch.randn(12, 40)
words = torch.randint(0, 12, (1536,))
clips = keywords[words] + 0.5 * torch.randn(1536, 40)

embed = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 16))
optimizer = torch.optim.Adam(embed.parameters(), lr=1e-2)
for i in range(0, 1536, 48):
    w = words[i:i + 48]
    anchor = clips[i:i + 48]
    positive = keywords[w] + 0.5 * torch.randn(48, 40)
    negative = keywords[(w + torch.randint(1, 12, (48,))) % 12] + 0.5 * torch.randn(48, 40)
    total = torch.zeros((), requires_grad=True)
    for a, p, n in zip(anchor.split(16), positive.split(16), negative.split(16)):
        ea, ep, en = F.normalize(embed(a)), F.normalize(embed(p)), F.normalize(embed(n))
        total = total + F.triplet_margin_loss(ea, ep, en, margin=0.5)
    loss = total / 3
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [20]
STEPS = 12
