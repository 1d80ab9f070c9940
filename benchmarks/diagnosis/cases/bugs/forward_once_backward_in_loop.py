"""The fully connected net's output is computed once outside the training loop; the second loss.backward() fails with 'Trying to backward through the graph a second time'."""

SOURCE = "https://github.com/zhangyu2234/Deep-learning-by-hand"
CAUSE = "backward-twice"
CELL = '''\
import torch

torch.manual_seed(0)
X = torch.randn(4000, 2)
true_W, true_b = torch.tensor([[0.7], [2.4]]), 0.8
Y = X @ true_W + true_b

W = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.03
y_hat = X @ W + b
for epoch in range(20):
    l = ((y_hat - Y) ** 2 / 2).mean()
    l.backward()
    with torch.no_grad():
        for param in (W, b):
            param -= lr * param.grad
            param.grad.zero_()'''
FIX = '''\
import torch

torch.manual_seed(0)
X = torch.randn(4000, 2)
true_W, true_b = torch.tensor([[0.7], [2.4]]), 0.8
Y = X @ true_W + true_b

W = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.03
for epoch in range(20):
    y_hat = X @ W + b
    l = ((y_hat - Y) ** 2 / 2).mean()
    l.backward()
    with torch.no_grad():
        for param in (W, b):
            param -= lr * param.grad
            param.grad.zero_()'''
FIX_LINES = [11, 12, 13]
