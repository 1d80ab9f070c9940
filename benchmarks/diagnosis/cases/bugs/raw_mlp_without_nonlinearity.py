"""A hand-written two-hidden-layer network multiplies by the weight matrices and adds the biases but applies no activation function between the layers, so the whole network is one linear map."""

SOURCE = "https://github.com/aymericdamien/TensorFlow-Examples/issues/207"
CAUSE = "missing-nonlinearity"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch

torch.manual_seed(0)
X = torch.rand(4000, 2) * 4 - 2
Y = (X.norm(dim=1) < 1.2).long()  # inside or outside a circle

n_hidden_1, n_hidden_2, num_input, num_classes = 32, 32, 2, 2
weights = {
    "h1": torch.nn.Parameter(torch.randn(num_input, n_hidden_1) * 0.5),
    "h2": torch.nn.Parameter(torch.randn(n_hidden_1, n_hidden_2) * 0.2),
    "out": torch.nn.Parameter(torch.randn(n_hidden_2, num_classes) * 0.2),
}
biases = {
    "b1": torch.nn.Parameter(torch.zeros(n_hidden_1)),
    "b2": torch.nn.Parameter(torch.zeros(n_hidden_2)),
    "out": torch.nn.Parameter(torch.zeros(num_classes)),
}

def neural_net(x):
    layer_1 = x @ weights["h1"] + biases["b1"]
    layer_2 = layer_1 @ weights["h2"] + biases["b2"]
    return layer_2 @ weights["out"] + biases["out"]

optimizer = torch.optim.Adam([*weights.values(), *biases.values()], lr=0.02)
for step in range(500):
    idx = torch.randint(0, 4000, (128,))
    logits = neural_net(X[idx])
    loss_op = torch.nn.functional.cross_entropy(logits, Y[idx])
    optimizer.zero_grad()
    loss_op.backward()
    optimizer.step()'''
FIX = '''\
import torch

torch.manual_seed(0)
X = torch.rand(4000, 2) * 4 - 2
Y = (X.norm(dim=1) < 1.2).long()  # inside or outside a circle

n_hidden_1, n_hidden_2, num_input, num_classes = 32, 32, 2, 2
weights = {
    "h1": torch.nn.Parameter(torch.randn(num_input, n_hidden_1) * 0.5),
    "h2": torch.nn.Parameter(torch.randn(n_hidden_1, n_hidden_2) * 0.2),
    "out": torch.nn.Parameter(torch.randn(n_hidden_2, num_classes) * 0.2),
}
biases = {
    "b1": torch.nn.Parameter(torch.zeros(n_hidden_1)),
    "b2": torch.nn.Parameter(torch.zeros(n_hidden_2)),
    "out": torch.nn.Parameter(torch.zeros(num_classes)),
}

def neural_net(x):
    layer_1 = torch.relu(x @ weights["h1"] + biases["b1"])
    layer_2 = torch.relu(layer_1 @ weights["h2"] + biases["b2"])
    return layer_2 @ weights["out"] + biases["out"]

optimizer = torch.optim.Adam([*weights.values(), *biases.values()], lr=0.02)
for step in range(500):
    idx = torch.randint(0, 4000, (128,))
    logits = neural_net(X[idx])
    loss_op = torch.nn.functional.cross_entropy(logits, Y[idx])
    optimizer.zero_grad()
    loss_op.backward()
    optimizer.step()'''
FIX_LINES = [20, 21]
STEPS = 60
