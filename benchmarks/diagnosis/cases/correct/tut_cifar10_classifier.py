"""The 60-minute blitz CIFAR-10 CNN: batches of 4, SGD lr 1e-3 momentum 0.9."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/beginner_source/blitz/cifar10_tutorial.py"
PROGRAM = "PyTorch tutorials: training a classifier (CIFAR-10)"
CELL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


def synthetic_cifar(n, seed):
    """3x32x32 images normalised with (0.5, 0.5, 0.5): each class has its own mean colour."""
    g = torch.Generator().manual_seed(seed)
    palette = torch.rand(10, 3, 1, 1, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = (0.6 * palette[labels] + 0.4 * torch.rand(n, 3, 32, 32, generator=g))
    return TensorDataset((images - 0.5) / 0.5, labels)


batch_size = 4
trainloader = DataLoader(synthetic_cifar(2000, 0), batch_size=batch_size, shuffle=True)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

for epoch in range(2):
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        inputs, labels = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if i % 2000 == 1999:
            print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2000:.3f}')
            running_loss = 0.0
print('Finished Training')
'''
STEPS = 10
