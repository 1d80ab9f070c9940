"""--max-grad-norm silently does nothing: every trainer calls clip_grad_norm_ after optimizer.step(), when the step has already used the unclipped gradients."""

SOURCE = "https://github.com/awslabs/graphstorm/issues/1366"
CAUSE = "clip-after-step"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
num_nodes = 500
adj = (torch.rand(num_nodes, num_nodes) < 0.02).float()
adj = adj + adj.t() + torch.eye(num_nodes)
deg = adj.sum(1, keepdim=True)
feats = torch.randn(num_nodes, 16) * 3
labels = ((adj @ feats)[:, 0] > 0).long()

class GCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(16, 32), nn.Linear(32, 2)

    def forward(self, x):
        h = F.relu(self.l1(adj @ x))
        return self.l2(adj @ h)

model = GCN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
max_grad_norm = 1.0
for epoch in range(100):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(feats), labels)
    loss.backward()
    optimizer.step()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
num_nodes = 500
adj = (torch.rand(num_nodes, num_nodes) < 0.02).float()
adj = adj + adj.t() + torch.eye(num_nodes)
deg = adj.sum(1, keepdim=True)
feats = torch.randn(num_nodes, 16) * 3
labels = ((adj @ feats)[:, 0] > 0).long()

class GCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(16, 32), nn.Linear(32, 2)

    def forward(self, x):
        h = F.relu(self.l1(adj @ x))
        return self.l2(adj @ h)

model = GCN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
max_grad_norm = 1.0
for epoch in range(100):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(feats), labels)
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()'''
FIX_LINES = [29, 31]
STEPS = 30
