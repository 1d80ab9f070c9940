"""The model's output is converted with .detach().numpy(), processed with NumPy and turned back into a tensor, which breaks backpropagation to the network."""

SOURCE = "https://github.com/kevinzakka/recurrent-visual-attention/issues/4"
CAUSE = "numpy-roundtrip"
CELL = '''\
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
images = torch.rand(512, 64)
targets = torch.rand(512, 2) * 2 - 1  # where to look, in [-1, 1]
images[:, :2] = targets

locator = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(locator.parameters(), lr=3e-3)
for epoch in range(5):
    for i in range(0, 512, 32):
        l_t = locator(images[i:i + 32])
        l_t = np.clip(l_t.detach().numpy(), -1, 1)  # keep the glimpse inside the image
        l_t = torch.from_numpy(l_t)
        loss = ((l_t - targets[i:i + 32]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
images = torch.rand(512, 64)
targets = torch.rand(512, 2) * 2 - 1  # where to look, in [-1, 1]
images[:, :2] = targets

locator = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(locator.parameters(), lr=3e-3)
for epoch in range(5):
    for i in range(0, 512, 32):
        l_t = locator(images[i:i + 32])
        l_t = torch.clamp(l_t, -1, 1)  # keep the glimpse inside the image
        loss = ((l_t - targets[i:i + 32]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [15, 16]
