"""An LSTM classifier on MNIST rows gives different results depending on batch_first: the input is (batch, seq, feature) but the LSTM is built without batch_first=True."""

SOURCE = "https://github.com/pytorch/pytorch/issues/1538"
CAUSE = "batch-first-mismatch"
CELL = '''\
import torch
from torch import nn, optim

torch.manual_seed(0)
digits = torch.rand(10, 28, 28)
labels = torch.randint(0, 10, (2000,))
images = digits[labels] + 0.3 * torch.randn(2000, 28, 28)  # (batch, rows, columns)

class Rnn(nn.Module):
    def __init__(self, in_dim, hidden_dim, n_layer, n_class):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer)
        self.classifier = nn.Linear(hidden_dim, n_class)

    def forward(self, x):
        out, _ = self.lstm(x)
        out = out[:, -1, :]
        return self.classifier(out)

model = Rnn(28, 64, 1, 10)
optimizer = optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 2000, 100):
        img, label = images[i:i + 100], labels[i:i + 100]
        loss = nn.functional.cross_entropy(model(img), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn, optim

torch.manual_seed(0)
digits = torch.rand(10, 28, 28)
labels = torch.randint(0, 10, (2000,))
images = digits[labels] + 0.3 * torch.randn(2000, 28, 28)  # (batch, rows, columns)

class Rnn(nn.Module):
    def __init__(self, in_dim, hidden_dim, n_layer, n_class):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer, batch_first=True)
        self.classifier = nn.Linear(hidden_dim, n_class)

    def forward(self, x):
        out, _ = self.lstm(x)
        out = out[:, -1, :]
        return self.classifier(out)

model = Rnn(28, 64, 1, 10)
optimizer = optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 2000, 100):
        img, label = images[i:i + 100], labels[i:i + 100]
        loss = nn.functional.cross_entropy(model(img), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [12]
STEPS = 20
