"""Fine-tuning a four-class weather image classifier fails with 'IndexError: Target 4 is out of bounds': the class labels run from 1 to 4."""

SOURCE = "https://github.com/aws/studio-lab-examples/issues/236"
CAUSE = "class-label-out-of-range"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
classes = {"cloudy": 1, "rain": 2, "shine": 3, "sunrise": 4}
label_ids = torch.randint(1, 5, (512,))
images = torch.randn(512, 3, 32, 32) + label_ids.view(-1, 1, 1, 1) * 0.2
loader = DataLoader(TensorDataset(images, label_ids), batch_size=32, shuffle=True)

model_ft = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
    nn.Flatten(), nn.Linear(8 * 16, len(classes)),
)
criterion = nn.CrossEntropyLoss()
optimizer_ft = torch.optim.SGD(model_ft.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    for data, target in loader:
        optimizer_ft.zero_grad()
        output = model_ft(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer_ft.step()'''
FIX = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
classes = {"cloudy": 0, "rain": 1, "shine": 2, "sunrise": 3}
label_ids = torch.randint(0, 4, (512,))
images = torch.randn(512, 3, 32, 32) + label_ids.view(-1, 1, 1, 1) * 0.2
loader = DataLoader(TensorDataset(images, label_ids), batch_size=32, shuffle=True)

model_ft = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
    nn.Flatten(), nn.Linear(8 * 16, len(classes)),
)
criterion = nn.CrossEntropyLoss()
optimizer_ft = torch.optim.SGD(model_ft.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    for data, target in loader:
        optimizer_ft.zero_grad()
        output = model_ft(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer_ft.step()'''
FIX_LINES = [6, 7]
