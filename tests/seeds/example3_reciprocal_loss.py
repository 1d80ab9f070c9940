import torch
import torch.nn as nn
import torch.optim as optim


class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return self.linear(x)

model = SimpleModel()
optimizer = optim.SGD(model.parameters(), lr=0.01)

# Incorrect loss function - tries to find reciprocal
def custom_loss(output, target):
    return 1 / torch.mean((output - target)**2)

input_data = torch.randn(1, 10)
target = torch.randn(1, 1)

for i in range(500):
    optimizer.zero_grad()
    output = model(input_data)
    loss = custom_loss(output, target)
    loss.backward()
    optimizer.step()
    if i % 50 == 0:
      print(f"Iteration {i}: Loss={loss.item()}")


