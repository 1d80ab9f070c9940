"""A spectrogram encoder compresses its hidden features with np.log1p between two layers (tensor -> NumPy -> tensor); the layers before the round trip never learn ('Can pytorch_tensor_to_numpy backward gradient to former layers?')."""

SOURCE = "https://github.com/delira-dev/delira/issues/40"
CAUSE = "numpy-roundtrip"
CELL = '''\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.randn(6, 64).abs()
labels = torch.randint(0, 6, (3000,))
spectra = templates[labels] * (1 + 0.3 * torch.rand(3000, 1)) + 0.2 * torch.rand(3000, 64)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.frontend = nn.Linear(64, 64)
        self.hidden = nn.Linear(64, 32)
        self.head = nn.Linear(32, 6)

    def forward(self, x):
        h = F.relu(self.frontend(x))
        h = torch.from_numpy(np.log1p(h.detach().numpy()))
        h = F.relu(self.hidden(h))
        return self.head(h)


model = Encoder()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 3000, 50):
        loss = F.cross_entropy(model(spectra[i:i + 50]), labels[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.randn(6, 64).abs()
labels = torch.randint(0, 6, (3000,))
spectra = templates[labels] * (1 + 0.3 * torch.rand(3000, 1)) + 0.2 * torch.rand(3000, 64)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.frontend = nn.Linear(64, 64)
        self.hidden = nn.Linear(64, 32)
        self.head = nn.Linear(32, 6)

    def forward(self, x):
        h = F.relu(self.frontend(x))
        h = torch.log1p(h)
        h = F.relu(self.hidden(h))
        return self.head(h)


model = Encoder()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 3000, 50):
        loss = F.cross_entropy(model(spectra[i:i + 50]), labels[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21]
STEPS = 30
HELD = "F.cross_entropy(model(spectra[-500:]), labels[-500:]).item()"
