import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class DeepModelSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 10)
        self.fc2 = nn.Linear(10, 10)
        self.fc3 = nn.Linear(10, 1)

    def forward(self, x):
        x = F.sigmoid(self.fc1(x))
        x = F.sigmoid(self.fc2(x))
        x = self.fc3(x)
        return x

model = DeepModelSigmoid()
optimizer = optim.SGD(model.parameters(), lr=0.01)
criterion = nn.MSELoss()
input_data = torch.randn(1, 10)
target = torch.randn(1, 1)


for i in range(500):
    optimizer.zero_grad()
    output = model(input_data)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    if i % 50 == 0:
      print(f"Iteration {i}: Loss={loss.item()}")

