"""A token-confidence head is nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid()) and its loss is nn.BCEWithLogitsLoss, so the sigmoid is applied twice."""

SOURCE = "https://github.com/cvg/glue-factory/issues/89"
CAUSE = "sigmoid-before-bce-with-logits"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
desc = torch.randn(4096, 64)
direction = torch.randn(64)
correct = (desc @ direction > 0.5).float()

class TokenConfidence(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.token = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())
        self.loss_fn = nn.BCEWithLogitsLoss(reduction="none")

    def forward(self, desc):
        return self.token(desc).squeeze(-1)

    def loss(self, desc, target):
        return self.loss_fn(self(desc), target).mean(-1)

head = TokenConfidence(64)
optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
for step in range(200):
    idx = torch.randint(0, 4096, (256,))
    loss = head.loss(desc[idx], correct[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
desc = torch.randn(4096, 64)
direction = torch.randn(64)
correct = (desc @ direction > 0.5).float()

class TokenConfidence(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.token = nn.Sequential(nn.Linear(dim, 1))
        self.loss_fn = nn.BCEWithLogitsLoss(reduction="none")

    def forward(self, desc):
        return self.token(desc).squeeze(-1)

    def loss(self, desc, target):
        return self.loss_fn(self(desc), target).mean(-1)

head = TokenConfidence(64)
optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
for step in range(200):
    idx = torch.randint(0, 4096, (256,))
    loss = head.loss(desc[idx], correct[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [12]
STEPS = 40
