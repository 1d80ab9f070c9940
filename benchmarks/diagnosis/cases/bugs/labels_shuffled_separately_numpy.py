"""Features and labels are shuffled separately before batching, so they no longer line up, and training still 'works' without any error."""

SOURCE = "https://github.com/udacity/sdc-issue-reports/issues/1326"
CAUSE = "labels-shuffled-separately"
CELL = '''\
import numpy as np
import torch
import torch.nn as nn

np.random.seed(0)
torch.manual_seed(0)
features = np.random.randn(3000, 32).astype(np.float32)
labels = (features[:, :8] @ np.random.randn(8, 5)).argmax(1)

def batches(features, labels, batch_size):
    np.random.shuffle(features)
    np.random.shuffle(labels)
    for i in range(0, len(features), batch_size):
        yield torch.from_numpy(features[i:i + batch_size]), torch.from_numpy(labels[i:i + batch_size])

model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(5):
    for x, y in batches(features, labels, 64):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
import torch.nn as nn

np.random.seed(0)
torch.manual_seed(0)
features = np.random.randn(3000, 32).astype(np.float32)
labels = (features[:, :8] @ np.random.randn(8, 5)).argmax(1)

def batches(features, labels, batch_size):
    order = np.random.permutation(len(features))
    features, labels = features[order], labels[order]
    for i in range(0, len(features), batch_size):
        yield torch.from_numpy(features[i:i + batch_size]), torch.from_numpy(labels[i:i + batch_size])

model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(5):
    for x, y in batches(features, labels, 64):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11, 12]
STEPS = 30
