"""A fully convolutional net trains with nn.BCELoss but has no sigmoid on its output."""

SOURCE = "https://github.com/yunlongdong/FCN-pytorch/issues/7"
CAUSE = "bce-without-sigmoid"
CELL = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
imgs = torch.rand(128, 3, 16, 16)
masks = (imgs[:, 0:1] > imgs[:, 1:2]).float()
loader = DataLoader(TensorDataset(imgs, masks), batch_size=8, shuffle=True)

fcn = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
criterion = nn.BCELoss()
optimizer = torch.optim.SGD(fcn.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for img, mask in loader:
        optimizer.zero_grad()
        output = fcn(img)
        loss = criterion(output, mask)
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
imgs = torch.rand(128, 3, 16, 16)
masks = (imgs[:, 0:1] > imgs[:, 1:2]).float()
loader = DataLoader(TensorDataset(imgs, masks), batch_size=8, shuffle=True)

fcn = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(fcn.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    for img, mask in loader:
        optimizer.zero_grad()
        output = fcn(img)
        loss = criterion(output, mask)
        loss.backward()
        optimizer.step()'''
FIX_LINES = [15]
