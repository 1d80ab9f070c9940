"""A learnable filterbank front-end wraps its convolution in torch.no_grad() inside forward, so its weights never change during training."""

SOURCE = "https://github.com/denfed/leaf-audio-pytorch/issues/3"
CAUSE = "forward-under-no-grad"
CELL = '''\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
t = torch.arange(256) / 256
freqs = torch.tensor([5.0, 11.0, 23.0, 41.0])
labels = torch.randint(0, 4, (1200,))
audio = torch.sin(2 * math.pi * freqs[labels, None] * t + 6 * torch.rand(1200, 1)) + 0.8 * torch.randn(1200, 256)
audio = audio.unsqueeze(1)

class Frontend(nn.Module):
    def __init__(self):
        super().__init__()
        self.filters = nn.Conv1d(1, 4, 31, padding=15)

    def forward(self, x):
        with torch.no_grad():
            x = self.filters(x)
        return F.avg_pool1d(x ** 2, 256).flatten(1).log()

model = nn.Sequential(Frontend(), nn.Linear(4, 4))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(5):
    for i in range(0, 1200, 40):
        loss = F.cross_entropy(model(audio[i:i + 40]), labels[i:i + 40])
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX = '''\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
t = torch.arange(256) / 256
freqs = torch.tensor([5.0, 11.0, 23.0, 41.0])
labels = torch.randint(0, 4, (1200,))
audio = torch.sin(2 * math.pi * freqs[labels, None] * t + 6 * torch.rand(1200, 1)) + 0.8 * torch.randn(1200, 256)
audio = audio.unsqueeze(1)

class Frontend(nn.Module):
    def __init__(self):
        super().__init__()
        self.filters = nn.Conv1d(1, 4, 31, padding=15)

    def forward(self, x):
        x = self.filters(x)
        return F.avg_pool1d(x ** 2, 256).flatten(1).log()

model = nn.Sequential(Frontend(), nn.Linear(4, 4))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(5):
    for i in range(0, 1200, 40):
        loss = F.cross_entropy(model(audio[i:i + 40]), labels[i:i + 40])
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX_LINES = [19, 20]
STEPS = 40
