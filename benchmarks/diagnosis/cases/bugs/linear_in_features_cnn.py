"""'mat1 and mat2 shapes cannot be multiplied (10x490 and 10x10)': the classifier's Linear layer takes hidden_units inputs although the flattened conv output has hidden_units*7*7."""

SOURCE = "https://github.com/mrdbourke/pytorch-deep-learning/issues/763"
CAUSE = "linear-shape-mismatch"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)

class FashionMNISTModelV2(nn.Module):
    def __init__(self, input_shape, hidden_units, output_shape):
        super().__init__()
        self.block_1 = nn.Sequential(nn.Conv2d(input_shape, hidden_units, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block_2 = nn.Sequential(nn.Conv2d(hidden_units, hidden_units, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(in_features=hidden_units, out_features=output_shape))

    def forward(self, x):
        return self.classifier(self.block_2(self.block_1(x)))

model_2 = FashionMNISTModelV2(input_shape=1, hidden_units=10, output_shape=10)
labels = torch.randint(0, 10, (320,))
images = torch.rand(320, 1, 28, 28) * 0.5
images[:, :, :14] += labels.view(-1, 1, 1, 1) / 20  # the brightness of the top half encodes the class
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model_2.parameters(), lr=0.1)
for epoch in range(3):
    for i in range(0, 320, 32):
        y_pred = model_2(images[i:i + 32])
        loss = loss_fn(y_pred, labels[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)

class FashionMNISTModelV2(nn.Module):
    def __init__(self, input_shape, hidden_units, output_shape):
        super().__init__()
        self.block_1 = nn.Sequential(nn.Conv2d(input_shape, hidden_units, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block_2 = nn.Sequential(nn.Conv2d(hidden_units, hidden_units, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(in_features=hidden_units * 7 * 7, out_features=output_shape))

    def forward(self, x):
        return self.classifier(self.block_2(self.block_1(x)))

model_2 = FashionMNISTModelV2(input_shape=1, hidden_units=10, output_shape=10)
labels = torch.randint(0, 10, (320,))
images = torch.rand(320, 1, 28, 28) * 0.5
images[:, :, :14] += labels.view(-1, 1, 1, 1) / 20  # the brightness of the top half encodes the class
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model_2.parameters(), lr=0.1)
for epoch in range(3):
    for i in range(0, 320, 32):
        y_pred = model_2(images[i:i + 32])
        loss = loss_fn(y_pred, labels[i:i + 32])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
