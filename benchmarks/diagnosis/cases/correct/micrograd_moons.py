"""The micrograd moons demo in torch: MLP of Neuron classes, max-margin loss, SGD by hand."""
SOURCE = "https://github.com/karpathy/micrograd/blob/master/demo.ipynb"
PROGRAM = "karpathy/micrograd: demo (moons, MLP, SGD)"
CELL = '''
import random

import numpy as np
import torch


def make_moons(n_samples=100, noise=0.1):
    """sklearn.datasets.make_moons (scikit-learn is not installed here)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.stack([np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out))], 1)
    inner = np.stack([1 - np.cos(np.linspace(0, np.pi, n_in)),
                      1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5], 1)
    X = np.concatenate([outer, inner]) + np.random.normal(scale=noise, size=(n_samples, 2))
    y = np.concatenate([np.zeros(n_out, dtype=int), np.ones(n_in, dtype=int)])
    return X, y


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = torch.zeros_like(p)

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = torch.tensor([random.uniform(-1, 1) for _ in range(nin)], requires_grad=True)
        self.b = torch.zeros((), requires_grad=True)
        self.nonlin = nonlin

    def __call__(self, x):
        act = x @ self.w + self.b
        return act.relu() if self.nonlin else act

    def parameters(self):
        return [self.w, self.b]


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = torch.stack([n(x) for n in self.neurons], -1)
        return out[..., 0] if len(self.neurons) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


np.random.seed(1337)
random.seed(1337)
X, y = make_moons(n_samples=100, noise=0.1)
y = y * 2 - 1
model = MLP(2, [16, 16, 1])
print("number of parameters", sum(p.numel() for p in model.parameters()))


def loss(batch_size=None):
    if batch_size is None:
        Xb, yb = X, y
    else:
        ri = np.random.permutation(X.shape[0])[:batch_size]
        Xb, yb = X[ri], y[ri]
    inputs = torch.tensor(Xb, dtype=torch.float32)
    yt = torch.tensor(yb, dtype=torch.float32)
    scores = model(inputs)
    losses = (1 + -yt * scores).relu()
    data_loss = losses.sum() * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p * p).sum() for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = ((yt > 0) == (scores > 0)).float().mean()
    return total_loss, accuracy


for k in range(100):
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    print(f"step {k} loss {total_loss.item()}, accuracy {acc.item() * 100}%")
'''
STEPS = 10
