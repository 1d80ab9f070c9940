"""A digit classifier ends in nn.Softmax and trains with nn.CrossEntropyLoss; the loss barely moves and then stalls."""

SOURCE = "https://github.com/thegregyang/LossUpAccUp/issues/1"
CAUSE = "softmax-before-cross-entropy"
CELL = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
templates = torch.rand(10, 64)
labels = torch.randint(0, 10, (2048,))
images = templates[labels] + 0.3 * torch.randn(2048, 64)
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)

model = nn.Sequential(
    nn.Linear(64, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
    nn.Softmax(dim=1),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

for epoch in range(5):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    print(epoch, loss.item())'''
FIX = '''\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
templates = torch.rand(10, 64)
labels = torch.randint(0, 10, (2048,))
images = templates[labels] + 0.3 * torch.randn(2048, 64)
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)

model = nn.Sequential(
    nn.Linear(64, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

for epoch in range(5):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    print(epoch, loss.item())'''
FIX_LINES = [15]
STEPS = 20
