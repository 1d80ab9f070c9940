"""With the model parameters initialised from a normal distribution with a tiny std, the network does not train until the initializer's std is adjusted."""

SOURCE = "https://github.com/PatrickZH/Improved-Deep-Leakage-from-Gradients/issues/5"
CAUSE = "init-too-small"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(3000, 32)
y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long() + 2 * (X[:, 2] > 0).long()

def weights_init(m):
    if isinstance(m, nn.Linear):
        m.weight.data.normal_(0, 0.01)
        m.bias.data.zero_()

layers = []
for i in range(6):
    layers += [nn.Linear(32 if i == 0 else 64, 64), nn.Tanh()]
net = nn.Sequential(*layers, nn.Linear(64, 4))
net.apply(weights_init)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 3000, 60):
        loss = F.cross_entropy(net(X[i:i + 60]), y[i:i + 60])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(3000, 32)
y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long() + 2 * (X[:, 2] > 0).long()

def weights_init(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain('tanh'))
        m.bias.data.zero_()

layers = []
for i in range(6):
    layers += [nn.Linear(32 if i == 0 else 64, 64), nn.Tanh()]
net = nn.Sequential(*layers, nn.Linear(64, 4))
net.apply(weights_init)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for i in range(0, 3000, 60):
        loss = F.cross_entropy(net(X[i:i + 60]), y[i:i + 60])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
STEPS = 40
