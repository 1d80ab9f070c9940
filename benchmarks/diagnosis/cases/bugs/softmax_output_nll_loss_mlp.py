"""An MLP ends in nn.Softmax(dim=1) and trains with NLLLoss, which expects log-probabilities; the loss is always negative."""

SOURCE = "https://github.com/AshwinRJ/Federated-Learning-PyTorch/issues/30"
CAUSE = "nll-on-probabilities"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
prototypes = torch.rand(10, 784)
labels = torch.randint(0, 10, (6000,))
images = (prototypes[labels] + 0.5 * torch.randn(6000, 784)).clamp(0, 1)
X_val, y_val = images[-1000:], labels[-1000:]

class MLP(nn.Module):
    def __init__(self, dim_in, dim_hidden, dim_out):
        super().__init__()
        self.layer_input = nn.Linear(dim_in, dim_hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout()
        self.layer_hidden = nn.Linear(dim_hidden, dim_out)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.relu(self.dropout(self.layer_input(x)))
        return self.softmax(self.layer_hidden(x))

model = MLP(784, 64, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
criterion = nn.NLLLoss()
for epoch in range(2):
    for i in range(0, 5000, 10):
        model.zero_grad()
        log_probs = model(images[i:i + 10])
        loss = criterion(log_probs, labels[i:i + 10])
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
prototypes = torch.rand(10, 784)
labels = torch.randint(0, 10, (6000,))
images = (prototypes[labels] + 0.5 * torch.randn(6000, 784)).clamp(0, 1)
X_val, y_val = images[-1000:], labels[-1000:]

class MLP(nn.Module):
    def __init__(self, dim_in, dim_hidden, dim_out):
        super().__init__()
        self.layer_input = nn.Linear(dim_in, dim_hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout()
        self.layer_hidden = nn.Linear(dim_hidden, dim_out)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, x):
        x = self.relu(self.dropout(self.layer_input(x)))
        return self.softmax(self.layer_hidden(x))

model = MLP(784, 64, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
criterion = nn.NLLLoss()
for epoch in range(2):
    for i in range(0, 5000, 10):
        model.zero_grad()
        log_probs = model(images[i:i + 10])
        loss = criterion(log_probs, labels[i:i + 10])
        loss.backward()
        optimizer.step()'''
FIX_LINES = [17]
STEPS = 60
HELD = "1 - (model.eval()(X_val).argmax(1) == y_val).float().mean().item()"
