"""The loss is the sum over the batch instead of the mean; with the learning rate of the mean the cost becomes NaN for larger batches."""

SOURCE = "https://github.com/aymericdamien/TensorFlow-Examples/issues/10"
CAUSE = "loss-reduction-sum"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.rand(10, 784)
digits = torch.randint(0, 10, (6000,))
pixels = (templates[digits] + 0.3 * torch.rand(6000, 784)).clamp(0, 1)

W = torch.zeros(784, 10, requires_grad=True)
b = torch.zeros(10, requires_grad=True)
optimizer = torch.optim.SGD([W, b], lr=0.01)
batch_size = 256
for epoch in range(5):
    for i in range(0, 6000, batch_size):
        xs, ys = pixels[i:i + batch_size], digits[i:i + batch_size]
        cost = F.cross_entropy(xs @ W + b, ys, reduction="sum")
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.rand(10, 784)
digits = torch.randint(0, 10, (6000,))
pixels = (templates[digits] + 0.3 * torch.rand(6000, 784)).clamp(0, 1)

W = torch.zeros(784, 10, requires_grad=True)
b = torch.zeros(10, requires_grad=True)
optimizer = torch.optim.SGD([W, b], lr=0.01)
batch_size = 256
for epoch in range(5):
    for i in range(0, 6000, batch_size):
        xs, ys = pixels[i:i + batch_size], digits[i:i + batch_size]
        cost = F.cross_entropy(xs @ W + b, ys)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()'''
FIX_LINES = [16]
