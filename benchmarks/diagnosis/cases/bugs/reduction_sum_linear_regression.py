"""Linear regression with a summed squared error converges for a few samples but the weights diverge once there are more samples at the same learning rate."""

SOURCE = "https://github.com/peterroelants/peterroelants.github.io/issues/5"
CAUSE = "loss-reduction-sum"
CELL = '''\
import torch

torch.manual_seed(0)
x = torch.rand(400, 1) * 2
t = 2 * x + 0.2 * torch.randn(400, 1)

model = torch.nn.Linear(1, 1)
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(20):
    for i in range(0, 400, 100):
        optimizer.zero_grad()
        cost = loss_fn(model(x[i:i + 100]), t[i:i + 100])
        cost.backward()
        optimizer.step()'''
FIX = '''\
import torch

torch.manual_seed(0)
x = torch.rand(400, 1) * 2
t = 2 * x + 0.2 * torch.randn(400, 1)

model = torch.nn.Linear(1, 1)
loss_fn = torch.nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(20):
    for i in range(0, 400, 100):
        optimizer.zero_grad()
        cost = loss_fn(model(x[i:i + 100]), t[i:i + 100])
        cost.backward()
        optimizer.step()'''
FIX_LINES = [8]
