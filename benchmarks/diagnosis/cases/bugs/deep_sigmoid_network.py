"""A deep fully connected network with sigmoid activations learns slowly because of the vanishing gradient; the proposed fix replaces sigmoid with ReLU."""

SOURCE = "https://github.com/aymericdamien/TensorFlow-Examples/pull/146"
CAUSE = "deep-sigmoid-vanishing"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(6000, 20)
y = (X[:, :10].sum(1) > 0).long()

def make_net(depth=8, width=64, act=nn.Sigmoid):
    layers, d = [], 20
    for _ in range(depth):
        layers += [nn.Linear(d, width), act()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 2))

net = make_net()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 6000, 100):
        loss = F.cross_entropy(net(X[i:i + 100]), y[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
X = torch.randn(6000, 20)
y = (X[:, :10].sum(1) > 0).long()

def make_net(depth=8, width=64, act=nn.ReLU):
    layers, d = [], 20
    for _ in range(depth):
        layers += [nn.Linear(d, width), act()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 2))

net = make_net()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(3):
    for i in range(0, 6000, 100):
        loss = F.cross_entropy(net(X[i:i + 100]), y[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [9]
STEPS = 60
