"""A retina-vessel segmentation net trains for a few epochs and then its loss jumps to 1e18: the uploaded script had the wrong (too large) learning rate."""

SOURCE = "https://github.com/juntang-zhuang/LadderNet/issues/1"
CAUSE = "lr-too-large"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
images = torch.rand(256, 1, 32, 32)
masks = (nn.functional.avg_pool2d(images, 5, 1, 2) > 0.5).float()

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
for epoch in range(10):
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = criterion(model(images[i:i + 32]), masks[i:i + 32])
        loss.backward()
        optimizer.step()
    print(epoch, loss.item())'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
images = torch.rand(256, 1, 32, 32)
masks = (nn.functional.avg_pool2d(images, 5, 1, 2) > 0.5).float()

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(10):
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = criterion(model(images[i:i + 32]), masks[i:i + 32])
        loss.backward()
        optimizer.step()
    print(epoch, loss.item())'''
FIX_LINES = [14]
STEPS = 32
