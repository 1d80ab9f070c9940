"""Logistic regression on a NumPy label column: y = torch.from_numpy(train_lab).long() has shape [n, 1] and CrossEntropyLoss raises 'multi-target not supported'."""

SOURCE = "https://github.com/zergtant/pytorch-handbook/issues/37"
CAUSE = "cross-entropy-target-shape"
CELL = '''\
import numpy as np
import torch

np.random.seed(0)
train_data = np.random.randn(1000, 24).astype(np.float32)
train_lab = (train_data[:, :3].sum(axis=1, keepdims=True) > 0).astype(np.int64)  # a column

net = torch.nn.Linear(24, 2)
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
x = torch.from_numpy(train_data)
y = torch.from_numpy(train_lab).long()
for epoch in range(100):
    y_hat = net(x)
    loss = criterion(y_hat, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import numpy as np
import torch

np.random.seed(0)
train_data = np.random.randn(1000, 24).astype(np.float32)
train_lab = (train_data[:, :3].sum(axis=1, keepdims=True) > 0).astype(np.int64)  # a column

net = torch.nn.Linear(24, 2)
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
x = torch.from_numpy(train_data)
y = torch.from_numpy(train_lab).long().squeeze(1)
for epoch in range(100):
    y_hat = net(x)
    loss = criterion(y_hat, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [12]
