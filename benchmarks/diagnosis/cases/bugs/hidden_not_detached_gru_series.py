"""Truncated backpropagation through time on a long series: the GRU's hidden state is carried from chunk to chunk without detaching it."""

SOURCE = "https://github.com/dpressel/dliss-tutorial/issues/1"
CAUSE = "hidden-state-not-detached"
CELL = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
t = torch.arange(6000) * 0.05
series = (torch.sin(t) + 0.5 * torch.sin(3.1 * t) + 0.1 * torch.randn(6000)).view(4, -1, 1)  # 4 sensors
bptt = 50

gru = nn.GRU(1, 32, batch_first=True)
head = nn.Linear(32, 1)
optimizer = torch.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=1e-2)
hidden = torch.zeros(1, 4, 32)
for start in range(0, series.size(1) - bptt - 1, bptt):
    x = series[:, start:start + bptt]
    y = series[:, start + 1:start + bptt + 1]
    out, hidden = gru(x, hidden)
    loss = ((head(out) - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import math
import torch
import torch.nn as nn

torch.manual_seed(0)
t = torch.arange(6000) * 0.05
series = (torch.sin(t) + 0.5 * torch.sin(3.1 * t) + 0.1 * torch.randn(6000)).view(4, -1, 1)  # 4 sensors
bptt = 50

gru = nn.GRU(1, 32, batch_first=True)
head = nn.Linear(32, 1)
optimizer = torch.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=1e-2)
hidden = torch.zeros(1, 4, 32)
for start in range(0, series.size(1) - bptt - 1, bptt):
    x = series[:, start:start + bptt]
    y = series[:, start + 1:start + bptt + 1]
    out, hidden = gru(x, hidden.detach())
    loss = ((head(out) - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [17]
