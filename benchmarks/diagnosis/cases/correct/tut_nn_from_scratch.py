"""What is torch.nn really (scratch): logistic regression with raw tensors and no_grad."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/beginner_source/nn_tutorial.py"
PROGRAM = "PyTorch tutorials: What is torch.nn really? (from scratch)"
CELL = '''
import math
import torch

g = torch.Generator().manual_seed(0)
n = 5000
prototypes = (torch.rand(10, 784, generator=g) < 0.15).float()
y_train = torch.randint(0, 10, (n,), generator=g)
keep = (torch.rand(n, 784, generator=g) < 0.8).float()
# like the MNIST pickle: mostly 0, strokes up to 1
x_train = prototypes[y_train] * keep * (0.5 + 0.5 * torch.rand(n, 784, generator=g))

weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


loss_func = nll


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


bs = 64
lr = 0.5
epochs = 2

for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        pred = model(xb)
        loss = loss_func(pred, yb)

        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()

print(loss_func(model(xb), yb), accuracy(model(xb), yb))
'''
STEPS = 10
