"""A ranking loss built with reduction='none' is backpropagated directly and fails with 'grad can be implicitly created only for scalar outputs' once batch_size > 1."""

SOURCE = "https://github.com/dillondavis/RecurrentAttentionConvolutionalNeuralNetwork/issues/4"
CAUSE = "backward-non-scalar"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
species = torch.randn(20, 48)
label = torch.randint(0, 20, (640,))
x = species[label] + torch.randn(640, 48)

scale1 = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 20))
scale2 = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 20))
criterion_rank = nn.MarginRankingLoss(margin=0.05, reduction="none")
optimizer = torch.optim.SGD(list(scale1.parameters()) + list(scale2.parameters()), lr=0.2)
batch_size = 32
for epoch in range(3):
    for i in range(0, 640, batch_size):
        s1, s2 = scale1(x[i:i + batch_size]), scale2(x[i:i + batch_size])
        t = label[i:i + batch_size].view(-1, 1)
        p1 = F.softmax(s1, 1).gather(1, t).squeeze(1)
        p2 = F.softmax(s2, 1).gather(1, t).squeeze(1)
        loss = F.cross_entropy(s1, t.squeeze(1)) + F.cross_entropy(s2, t.squeeze(1)) + criterion_rank(p2, p1, torch.ones_like(p1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
species = torch.randn(20, 48)
label = torch.randint(0, 20, (640,))
x = species[label] + torch.randn(640, 48)

scale1 = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 20))
scale2 = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 20))
criterion_rank = nn.MarginRankingLoss(margin=0.05)
optimizer = torch.optim.SGD(list(scale1.parameters()) + list(scale2.parameters()), lr=0.2)
batch_size = 32
for epoch in range(3):
    for i in range(0, 640, batch_size):
        s1, s2 = scale1(x[i:i + batch_size]), scale2(x[i:i + batch_size])
        t = label[i:i + batch_size].view(-1, 1)
        p1 = F.softmax(s1, 1).gather(1, t).squeeze(1)
        p2 = F.softmax(s2, 1).gather(1, t).squeeze(1)
        loss = F.cross_entropy(s1, t.squeeze(1)) + F.cross_entropy(s2, t.squeeze(1)) + criterion_rank(p2, p1, torch.ones_like(p1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12]
STEPS = 20
