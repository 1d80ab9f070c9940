"""Loss values are NaN with mean_squared_error because the predicted sale price reaches about 755000 and the squared error explodes."""

SOURCE = "https://github.com/rstudio-conf-2020/dl-keras-tf/issues/9"
CAUSE = "unnormalised-targets"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 2000
x_train = torch.randn(n, 10)  # already standardised features
sale_price = 180000 + 60000 * (x_train[:, :3] @ torch.tensor([1.0, 0.5, -0.3])) + 5000 * torch.randn(n)
y_train = sale_price.clamp(min=35000).unsqueeze(1)

model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    for i in range(0, n, 16):
        loss = nn.functional.mse_loss(model(x_train[i:i + 16]), y_train[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 2000
x_train = torch.randn(n, 10)  # already standardised features
sale_price = 180000 + 60000 * (x_train[:, :3] @ torch.tensor([1.0, 0.5, -0.3])) + 5000 * torch.randn(n)
y_train = (sale_price.clamp(min=35000).unsqueeze(1) - 180000) / 60000

model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(10):
    for i in range(0, n, 16):
        loss = nn.functional.mse_loss(model(x_train[i:i + 16]), y_train[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [8]
STEPS = 30
