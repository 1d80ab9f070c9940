"""The neural predictor is trained with MSE on accuracies in [0, 100] while its output goes through a sigmoid, which can only produce values in [0, 1]."""

SOURCE = "https://github.com/ultmaster/neuralpredictor.pytorch/issues/2"
CAUSE = "output-activation-range"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
archs = torch.randint(0, 2, (2000, 24)).float()  # which operations each cell uses
accuracy = 60 + 30 * torch.sigmoid(archs @ torch.randn(24) * 0.5)  # test accuracy in percent

predictor = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())
optimizer = torch.optim.Adam(predictor.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 2000, 50):
        pred = predictor(archs[i:i + 50]).squeeze(1)
        loss = nn.functional.mse_loss(pred, accuracy[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
archs = torch.randint(0, 2, (2000, 24)).float()  # which operations each cell uses
accuracy = 60 + 30 * torch.sigmoid(archs @ torch.randn(24) * 0.5)  # test accuracy in percent

predictor = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())
optimizer = torch.optim.Adam(predictor.parameters(), lr=1e-3)
for epoch in range(5):
    for i in range(0, 2000, 50):
        pred = predictor(archs[i:i + 50]).squeeze(1)
        loss = nn.functional.mse_loss(pred, accuracy[i:i + 50] / 100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [13]
STEPS = 30
