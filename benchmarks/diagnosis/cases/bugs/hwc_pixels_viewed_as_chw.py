"""Image pixels stored height x width x channel are turned into channel x height x width with a single view() instead of a permute, which scrambles the values into a pretend image."""

SOURCE = "https://github.com/pytorch/vision/issues/676"
CAUSE = "view-instead-of-permute"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
colours = torch.eye(3) * 0.8 + 0.1
labels = torch.randint(0, 3, (2048,))
pixels = colours[labels].view(2048, 1, 1, 3) + 0.3 * torch.randn(2048, 16, 16, 3)  # (N, H, W, C)

class ColourNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))

model = ColourNet()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(2):
    for i in range(0, 2048, 64):
        img = pixels[i:i + 64]
        img = img.contiguous().view(img.size(0), 3, 16, 16)
        loss = nn.functional.cross_entropy(model(img), labels[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
colours = torch.eye(3) * 0.8 + 0.1
labels = torch.randint(0, 3, (2048,))
pixels = colours[labels].view(2048, 1, 1, 3) + 0.3 * torch.randn(2048, 16, 16, 3)  # (N, H, W, C)

class ColourNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))

model = ColourNet()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(2):
    for i in range(0, 2048, 64):
        img = pixels[i:i + 64]
        img = img.permute(0, 3, 1, 2).contiguous()
        loss = nn.functional.cross_entropy(model(img), labels[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [24]
STEPS = 20
