"""Without batch_squash = batch_x / 255 the reconstruction loss becomes very large: training on the original 0-255 MNIST pixels."""

SOURCE = "https://github.com/www0wwwjs1/Matrix-Capsules-EM-Tensorflow/issues/51"
CAUSE = "unnormalised-inputs"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
strokes = torch.rand(10, 1, 28, 28)
labels = torch.randint(0, 10, (3000,))
batch_x = ((strokes[labels] + 0.2 * torch.rand(3000, 1, 28, 28)).clamp(0, 1) * 255).round()

X_val, y_val = batch_x[2500:], labels[2500:]

def prepare(images):
    return images

model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    for i in range(0, 2500, 64):
        loss = F.cross_entropy(model(prepare(batch_x[i:i + 64])), labels[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
strokes = torch.rand(10, 1, 28, 28)
labels = torch.randint(0, 10, (3000,))
batch_x = ((strokes[labels] + 0.2 * torch.rand(3000, 1, 28, 28)).clamp(0, 1) * 255).round()

X_val, y_val = batch_x[2500:], labels[2500:]

def prepare(images):
    return images / 255.0

model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    for i in range(0, 2500, 64):
        loss = F.cross_entropy(model(prepare(batch_x[i:i + 64])), labels[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [13]
STEPS = 30
HELD = '1 - (model(prepare(X_val)).argmax(1) == y_val).float().mean().item()'
