"""Weights made as torch.randn(..., requires_grad=True) * 0.01 are not leaves: after backward() their .grad is None and the manual update raises a TypeError."""

SOURCE = "https://github.com/pytorch/tutorials/pull/3717"
CAUSE = "non-leaf-parameter"
CELL = '''\
import math
import torch

torch.manual_seed(0)
x_train = torch.rand(1000, 784)
y_train = x_train[:, :392].sum(1).div(40).long().clamp(max=9)

weights = torch.randn(784, 10, requires_grad=True) / math.sqrt(784)
bias = torch.zeros(10, requires_grad=True)

def model(xb):
    return xb @ weights + bias

loss_func = torch.nn.functional.cross_entropy
lr, bs = 0.01, 64
for epoch in range(2):
    for i in range(0, 1000, bs):
        loss = loss_func(model(x_train[i:i + bs]), y_train[i:i + bs])
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()'''
FIX = '''\
import math
import torch

torch.manual_seed(0)
x_train = torch.rand(1000, 784)
y_train = x_train[:, :392].sum(1).div(40).long().clamp(max=9)

weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)

def model(xb):
    return xb @ weights + bias

loss_func = torch.nn.functional.cross_entropy
lr, bs = 0.01, 64
for epoch in range(2):
    for i in range(0, 1000, bs):
        loss = loss_func(model(x_train[i:i + bs]), y_train[i:i + bs])
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()'''
FIX_LINES = [8]
