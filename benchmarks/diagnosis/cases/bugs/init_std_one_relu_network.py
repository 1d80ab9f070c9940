"""Replacing sigmoid with ReLU in the network, the accuracy stays at 0.095; the answer is to initialise weights and biases to much smaller values."""

SOURCE = "https://github.com/MichalDanielDobrzanski/DeepLearningPython/issues/13"
CAUSE = "init-too-large"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
sizes = [784, 100, 100, 10]
weights = [torch.randn(a, b).requires_grad_() for a, b in zip(sizes[:-1], sizes[1:])]
biases = [torch.randn(b).requires_grad_() for b in sizes[1:]]

templates = torch.rand(10, 784)
labels = torch.randint(0, 10, (4700,))
images = (templates[labels] + 0.3 * torch.randn(4700, 784)).clamp(0, 1)
X_val, y_val = images[4200:], labels[4200:]

def feedforward(a):
    for w, b in zip(weights[:-1], biases[:-1]):
        a = F.relu(a @ w + b)
    return a @ weights[-1] + biases[-1]

optimizer = torch.optim.SGD(weights + biases, lr=0.1)
for epoch in range(3):
    for i in range(0, 4200, 10):
        loss = F.cross_entropy(feedforward(images[i:i + 10]), labels[i:i + 10])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
sizes = [784, 100, 100, 10]
weights = [(torch.randn(a, b) * (2 / a) ** 0.5).requires_grad_() for a, b in zip(sizes[:-1], sizes[1:])]
biases = [torch.zeros(b).requires_grad_() for b in sizes[1:]]

templates = torch.rand(10, 784)
labels = torch.randint(0, 10, (4700,))
images = (templates[labels] + 0.3 * torch.randn(4700, 784)).clamp(0, 1)
X_val, y_val = images[4200:], labels[4200:]

def feedforward(a):
    for w, b in zip(weights[:-1], biases[:-1]):
        a = F.relu(a @ w + b)
    return a @ weights[-1] + biases[-1]

optimizer = torch.optim.SGD(weights + biases, lr=0.1)
for epoch in range(3):
    for i in range(0, 4200, 10):
        loss = F.cross_entropy(feedforward(images[i:i + 10]), labels[i:i + 10])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [6, 7]
STEPS = 40
HELD = '1 - (feedforward(X_val).argmax(1) == y_val).float().mean().item()'
