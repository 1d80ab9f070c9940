"""A validation accuracy check calls model.eval() and training never switches back to train(), so BatchNorm and dropout stay in inference mode for the rest of the epoch."""

SOURCE = "https://github.com/facebookresearch/clevr-iep/pull/22"
CAUSE = "eval-mode-while-training"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(4096, 20) * 20 + 50
w = torch.randn(20)
y = ((X - 50) @ w > 0).long()
X_train, y_train = X[:-512], y[:-512]
X_val, y_val = X[-512:], y[-512:]

model = nn.Sequential(
    nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.3),
    nn.Linear(64, 2),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()

def check_accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()

model.train()
for epoch in range(5):
    print("val acc", check_accuracy(model, X_val, y_val))
    for i in range(0, len(X_train), 128):
        xb, yb = X_train[i:i + 128], y_train[i:i + 128]
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
X = torch.randn(4096, 20) * 20 + 50
w = torch.randn(20)
y = ((X - 50) @ w > 0).long()
X_train, y_train = X[:-512], y[:-512]
X_val, y_val = X[-512:], y[-512:]

model = nn.Sequential(
    nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.3),
    nn.Linear(64, 2),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()

def check_accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()

model.train()
for epoch in range(5):
    print("val acc", check_accuracy(model, X_val, y_val))
    model.train()
    for i in range(0, len(X_train), 128):
        xb, yb = X_train[i:i + 128], y_train[i:i + 128]
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()'''
FIX_LINES = [25, 26]
STEPS = 20
