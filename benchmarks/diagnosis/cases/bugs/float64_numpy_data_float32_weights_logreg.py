"""Logistic regression written by hand on NumPy data: the weights are made float32, the features stay float64 from torch.from_numpy, and the first matrix product raises 'expected scalar type Double but found Float'."""

SOURCE = "https://github.com/pytorch/pytorch/issues/15436"
CAUSE = "dtype-mismatch"
CELL = '''\
import numpy as np
import torch
import torch.nn.functional as F

np.random.seed(0)
n_features = 10
w = torch.from_numpy(np.random.randn(n_features, 1).astype(np.float32) * 0.01).requires_grad_()
b = torch.zeros(1, requires_grad=True)
x_np = np.random.randn(2000, n_features)
y_np = (x_np[:, :2].sum(axis=1, keepdims=True) > 0).astype(np.float32)
X_train, y_train = torch.from_numpy(x_np), torch.from_numpy(y_np)

optimizer = torch.optim.SGD([w, b], lr=0.5)
for epoch in range(5):
    for i in range(0, 2000, 100):
        logits = X_train[i:i + 100] @ w + b
        loss = F.binary_cross_entropy_with_logits(logits, y_train[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
import torch.nn.functional as F

np.random.seed(0)
n_features = 10
w = torch.from_numpy(np.random.randn(n_features, 1).astype(np.float32) * 0.01).requires_grad_()
b = torch.zeros(1, requires_grad=True)
x_np = np.random.randn(2000, n_features)
y_np = (x_np[:, :2].sum(axis=1, keepdims=True) > 0).astype(np.float32)
X_train, y_train = torch.from_numpy(x_np).float(), torch.from_numpy(y_np)

optimizer = torch.optim.SGD([w, b], lr=0.5)
for epoch in range(5):
    for i in range(0, 2000, 100):
        logits = X_train[i:i + 100] @ w + b
        loss = F.binary_cross_entropy_with_logits(logits, y_train[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
