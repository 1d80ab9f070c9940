"""Labels are one-hot encoded before nn.CrossEntropyLoss, which expects class indices, and training fails on the target type."""

SOURCE = "https://github.com/pytorch/pytorch/issues/1258"
CAUSE = "one-hot-targets"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
n_chars = 36  # 0-9 and A-Z on licence plates
glyphs = torch.rand(n_chars, 1, 10, 10)
chars = torch.randint(0, n_chars, (1500,))
images = glyphs[chars] + 0.2 * torch.randn(1500, 1, 10, 10)
targets = F.one_hot(chars, n_chars)
loader = DataLoader(TensorDataset(images, targets), batch_size=25, shuffle=True)

model = nn.Sequential(nn.Flatten(), nn.Linear(100, 128), nn.ReLU(), nn.Linear(128, n_chars))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for inputs, target in loader:
        output = model(inputs)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
n_chars = 36  # 0-9 and A-Z on licence plates
glyphs = torch.rand(n_chars, 1, 10, 10)
chars = torch.randint(0, n_chars, (1500,))
images = glyphs[chars] + 0.2 * torch.randn(1500, 1, 10, 10)
targets = F.one_hot(chars, n_chars)
loader = DataLoader(TensorDataset(images, targets), batch_size=25, shuffle=True)

model = nn.Sequential(nn.Flatten(), nn.Linear(100, 128), nn.ReLU(), nn.Linear(128, n_chars))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(3):
    for inputs, target in loader:
        output = model(inputs)
        loss = criterion(output, target.argmax(dim=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [20]
