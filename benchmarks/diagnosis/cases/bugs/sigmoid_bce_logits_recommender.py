"""A matrix-factorisation recommender applies torch.sigmoid to its scores and then nn.BCEWithLogitsLoss; the loss does not converge."""

SOURCE = "https://github.com/yudi-mars/daisyRec/pull/15"
CAUSE = "sigmoid-before-bce-with-logits"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
users, items, dim = 300, 400, 16
true_u, true_i = torch.randn(users, 4), torch.randn(items, 4)
u = torch.randint(0, users, (20000,))
i = torch.randint(0, items, (20000,))
clicked = ((true_u[u] * true_i[i]).sum(1) > 0).float()

class MF(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(users, dim)
        self.item = nn.Embedding(items, dim)

    def forward(self, u, i):
        score = (self.user(u) * self.item(i)).sum(dim=1)
        return torch.sigmoid(score)

model = MF()
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for epoch in range(3):
    for start in range(0, len(u), 512):
        b = slice(start, start + 512)
        opt.zero_grad()
        loss = loss_fn(model(u[b], i[b]), clicked[b])
        loss.backward()
        opt.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
users, items, dim = 300, 400, 16
true_u, true_i = torch.randn(users, 4), torch.randn(items, 4)
u = torch.randint(0, users, (20000,))
i = torch.randint(0, items, (20000,))
clicked = ((true_u[u] * true_i[i]).sum(1) > 0).float()

class MF(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(users, dim)
        self.item = nn.Embedding(items, dim)

    def forward(self, u, i):
        score = (self.user(u) * self.item(i)).sum(dim=1)
        return score

model = MF()
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for epoch in range(3):
    for start in range(0, len(u), 512):
        b = slice(start, start + 512)
        opt.zero_grad()
        loss = loss_fn(model(u[b], i[b]), clicked[b])
        loss.backward()
        opt.step()'''
FIX_LINES = [19]
STEPS = 30
