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
criterion = nn.MSELoss()
input_data = torch.randn(1, 10)
target = torch.randn(1, 1)

for i in range(5):
    output = model(input_data)
    loss = criterion(output, target)

    loss.backward()
    # Incorrect: Optimizer step before zeroing gradient
    optimizer.step()
    optimizer.zero_grad() # Should be placed before backprop

    print(f"Iteration {i}: Loss={loss.item()}")

