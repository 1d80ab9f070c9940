"""In both training examples clip_grad_norm() is called after opt.step(), so it does nothing for the update it was meant to protect."""

SOURCE = "https://github.com/VGraphRNN/VGRNN/issues/4"
CAUSE = "clip-after-step"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
T = 40
series = torch.cumsum(torch.randn(600, T + 1, 1), dim=1) * 0.5  # random walks, not normalised

class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 32, batch_first=True)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h)

model = Forecaster()
opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
clip = 1.0
for epoch in range(10):
    for i in range(0, 600, 30):
        x, y = series[i:i + 30, :-1], series[i:i + 30, 1:]
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        nn.utils.clip_grad_norm_(model.parameters(), clip)'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
T = 40
series = torch.cumsum(torch.randn(600, T + 1, 1), dim=1) * 0.5  # random walks, not normalised

class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 32, batch_first=True)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h)

model = Forecaster()
opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
clip = 1.0
for epoch in range(10):
    for i in range(0, 600, 30):
        x, y = series[i:i + 30, :-1], series[i:i + 30, 1:]
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()'''
FIX_LINES = [26, 27, 28]
STEPS = 30
