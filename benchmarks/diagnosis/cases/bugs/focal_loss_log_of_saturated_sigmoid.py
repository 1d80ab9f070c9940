"""A hand-written binary focal loss takes torch.log(p) and torch.log(1 - p) of sigmoid probabilities and sometimes turns NaN; it was solved by handling the probabilities that are exactly 0 or 1."""

SOURCE = "https://github.com/gnn-tracking/gnn_tracking/issues/138"
CAUSE = "log-of-zero"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
edges = torch.randn(4096, 12) * 6
truth = (edges[:, 0] + edges[:, 1] > 0).float()

def focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    loss = -alpha * targets * (1 - p) ** gamma * torch.log(p) - (1 - alpha) * (1 - targets) * p ** gamma * torch.log(1 - p)
    return loss.mean()

edge_classifier = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(edge_classifier.parameters(), lr=0.05)
for epoch in range(5):
    for i in range(0, 4096, 256):
        logits = edge_classifier(edges[i:i + 256]).squeeze(1)
        loss = focal_loss(logits, truth[i:i + 256])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
edges = torch.randn(4096, 12) * 6
truth = (edges[:, 0] + edges[:, 1] > 0).float()

def focal_loss(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    loss = -alpha * targets * (1 - p) ** gamma * nn.functional.logsigmoid(logits) - (1 - alpha) * (1 - targets) * p ** gamma * nn.functional.logsigmoid(-logits)
    return loss.mean()

edge_classifier = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.Adam(edge_classifier.parameters(), lr=0.05)
for epoch in range(5):
    for i in range(0, 4096, 256):
        logits = edge_classifier(edges[i:i + 256]).squeeze(1)
        loss = focal_loss(logits, truth[i:i + 256])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [10]
STEPS = 60
