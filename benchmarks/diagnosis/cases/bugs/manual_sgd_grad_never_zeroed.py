"""Plain gradient descent on W and b updates W -= learning_rate * W.grad without zeroing W.grad, so each step uses the sum of all earlier gradients."""

SOURCE = "https://stackoverflow.com/questions/48001598/why-do-we-need-to-call-zero-grad-in-pytorch"
CAUSE = "manual-update-no-zero"
CELL = '''\
import torch

torch.manual_seed(0)
data = torch.randn(200, 4)
targets = data @ torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0], [2.0, 0.0, -1.0], [1.0, 1.0, 1.0]])

def linear_model(x, W, b):
    return torch.matmul(x, W) + b

W = torch.randn(4, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
learning_rate = 0.1
for epoch in range(5):
    for sample, target in zip(data.split(10), targets.split(10)):
        output = linear_model(sample, W, b)
        loss = ((output - target) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            W -= learning_rate * W.grad
            b -= learning_rate * b.grad'''
FIX = '''\
import torch

torch.manual_seed(0)
data = torch.randn(200, 4)
targets = data @ torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0], [2.0, 0.0, -1.0], [1.0, 1.0, 1.0]])

def linear_model(x, W, b):
    return torch.matmul(x, W) + b

W = torch.randn(4, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
learning_rate = 0.1
for epoch in range(5):
    for sample, target in zip(data.split(10), targets.split(10)):
        output = linear_model(sample, W, b)
        loss = ((output - target) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            W -= learning_rate * W.grad
            b -= learning_rate * b.grad
            W.grad.zero_()
            b.grad.zero_()'''
FIX_LINES = [20]
STEPS = 30
