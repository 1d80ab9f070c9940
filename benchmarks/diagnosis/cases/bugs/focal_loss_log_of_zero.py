"""The focal loss computes torch.log(p_t) directly; when p_t reaches 0 the logarithm is undefined and training runs into numerical issues."""

SOURCE = "https://github.com/mathiaszinnen/focal_loss_torch/issues/3"
CAUSE = "log-of-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        p = torch.softmax(logits, dim=1)
        p_t = p.gather(1, target.unsqueeze(1)).squeeze(1)
        return (-1 * (1 - p_t) ** self.gamma * torch.log(p_t)).mean()

anchors = torch.randn(3000, 16) * 40  # raw anchor features
cls = (anchors[:, 0] > 0).long() + (anchors[:, 1] > 5).long()
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3))
criterion = FocalLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    for i in range(0, 3000, 100):
        loss = criterion(model(anchors[i:i + 100]), cls[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        p = torch.softmax(logits, dim=1)
        p_t = p.gather(1, target.unsqueeze(1)).squeeze(1)
        return (-1 * (1 - p_t) ** self.gamma * torch.log(p_t + 1e-8)).mean()

anchors = torch.randn(3000, 16) * 40  # raw anchor features
cls = (anchors[:, 0] > 0).long() + (anchors[:, 1] > 5).long()
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 3))
criterion = FocalLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    for i in range(0, 3000, 100):
        loss = criterion(model(anchors[i:i + 100]), cls[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [14]
STEPS = 30
