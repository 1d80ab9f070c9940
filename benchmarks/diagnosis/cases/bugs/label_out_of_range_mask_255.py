"""A binary segmentation model with CrossEntropyLoss gets masks loaded as greyscale 0/255 and fails with 'Target 255 is out of bounds'."""

SOURCE = "https://github.com/milesial/Pytorch-UNet/issues/291"
CAUSE = "class-label-out-of-range"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
images = torch.rand(64, 3, 24, 24)
masks = (images.mean(1) > 0.5).long() * 255  # PNG masks read as 0 / 255
loader = DataLoader(TensorDataset(images, masks), batch_size=4, shuffle=True)

n_classes = 2
net = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
    nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
    nn.Conv2d(16, n_classes, 1),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3, weight_decay=1e-8, momentum=0.9)
for epoch in range(2):
    for imgs, true_masks in loader:
        masks_pred = net(imgs)
        loss = criterion(masks_pred, true_masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
images = torch.rand(64, 3, 24, 24)
masks = (images.mean(1) > 0.5).long() * 255  # PNG masks read as 0 / 255
loader = DataLoader(TensorDataset(images, masks), batch_size=4, shuffle=True)

n_classes = 2
net = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
    nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
    nn.Conv2d(16, n_classes, 1),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3, weight_decay=1e-8, momentum=0.9)
for epoch in range(2):
    for imgs, true_masks in loader:
        masks_pred = net(imgs)
        loss = criterion(masks_pred, true_masks // 255)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [21]
