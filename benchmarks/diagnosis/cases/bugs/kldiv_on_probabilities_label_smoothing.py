"""A classifier trained against smoothed label distributions feeds softmax probabilities to KLDivLoss, which expects them in log space."""

SOURCE = "https://github.com/lightly-ai/lightly/pull/1341"
CAUSE = "kldiv-on-probabilities"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
classes = 16
prototypes = torch.randn(classes, 40)
y_train = torch.randint(0, classes, (4000,))
X_train = prototypes[y_train] + 0.8 * torch.randn(4000, 40)
y_val = torch.randint(0, classes, (500,))
X_val = prototypes[y_val] + 0.8 * torch.randn(500, 40)

def smooth(labels, eps=0.1):
    return F.one_hot(labels, classes).float() * (1 - eps) + eps / classes

model = nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, classes))
criterion = nn.KLDivLoss(reduction="batchmean")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 4000, 64):
        probs = F.softmax(model(X_train[i:i + 64]), dim=1)
        loss = criterion(probs, smooth(y_train[i:i + 64]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
classes = 16
prototypes = torch.randn(classes, 40)
y_train = torch.randint(0, classes, (4000,))
X_train = prototypes[y_train] + 0.8 * torch.randn(4000, 40)
y_val = torch.randint(0, classes, (500,))
X_val = prototypes[y_val] + 0.8 * torch.randn(500, 40)

def smooth(labels, eps=0.1):
    return F.one_hot(labels, classes).float() * (1 - eps) + eps / classes

model = nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, classes))
criterion = nn.KLDivLoss(reduction="batchmean")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 4000, 64):
        probs = F.log_softmax(model(X_train[i:i + 64]), dim=1)
        loss = criterion(probs, smooth(y_train[i:i + 64]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21]
STEPS = 30
HELD = '1 - (model(X_val).argmax(1) == y_val).float().mean().item()'
