"""Two conv-BatchNorm-ReLU-maxpool blocks and a linear classifier on 28x28 images; Adam lr 1e-3, batches of 100."""
SOURCE = "https://github.com/yunjey/pytorch-tutorial/blob/master/tutorials/02-intermediate/convolutional_neural_network/main.py"
PROGRAM = "yunjey/pytorch-tutorial: convolutional neural network (MNIST)"
HELD_OUT = "2026-11-30"
CELL = '''
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
num_epochs, num_classes, batch_size, learning_rate = 2, 10, 100, 0.001

digits = torch.rand(num_classes, 1, 28, 28)
labels = torch.randint(0, num_classes, (2000,))
images = (0.7 * digits[labels] + 0.3 * torch.rand(2000, 1, 28, 28))
train_loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(16, 32, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7 * 7 * 32, num_classes)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.reshape(out.size(0), -1)
        return self.fc(out)


model = ConvNet(num_classes)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
'''
STEPS = 10
