"""torch.mm fails with 'expected scalar type Double but found Float': the features come from np.random.normal, which makes float64."""

SOURCE = "https://github.com/OUCMachineLearning/OUCML/issues/24"
CAUSE = "dtype-mismatch"
CELL = '''\
import numpy as np
import torch
from torch import nn

np.random.seed(0)
num_inputs, num_examples = 2, 1000
true_w, true_b = [2, -3.4], 4.2
features = torch.from_numpy(np.random.normal(0, 1, (num_examples, num_inputs)))
labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b

net = nn.Linear(num_inputs, 1)
loss = nn.MSELoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.03)
for epoch in range(3):
    for i in range(0, num_examples, 10):
        X, y = features[i:i + 10], labels[i:i + 10]
        l = loss(net(X), y.view(-1, 1))
        optimizer.zero_grad()
        l.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
from torch import nn

np.random.seed(0)
num_inputs, num_examples = 2, 1000
true_w, true_b = [2, -3.4], 4.2
features = torch.from_numpy(np.random.normal(0, 1, (num_examples, num_inputs))).to(torch.float32)
labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b

net = nn.Linear(num_inputs, 1)
loss = nn.MSELoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.03)
for epoch in range(3):
    for i in range(0, num_examples, 10):
        X, y = features[i:i + 10], labels[i:i + 10]
        l = loss(net(X), y.view(-1, 1))
        optimizer.zero_grad()
        l.backward()
        optimizer.step()'''
FIX_LINES = [8]
STEPS = 30
