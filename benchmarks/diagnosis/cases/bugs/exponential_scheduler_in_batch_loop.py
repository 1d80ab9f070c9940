"""The learning-rate scheduler is stepped in the batch loop instead of the epoch loop, so the rate follows the schedule after each batch instead of after each epoch."""

SOURCE = "https://github.com/ivadomed/ivadomed/pull/55"
CAUSE = "scheduler-per-batch"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
volumes = torch.randn(800, 1, 8, 8, 8)
lesion = torch.randint(0, 2, (800,)).float()
volumes[lesion == 1, :, 2:6, 2:6, 2:6] += 1.0

model = nn.Sequential(nn.Conv3d(1, 8, 3), nn.ReLU(), nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(8, 1))
num_epochs = 5
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
loss_fn = nn.BCEWithLogitsLoss()
for epoch in range(num_epochs):
    for i in range(0, 800, 16):
        loss = loss_fn(model(volumes[i:i + 16]).squeeze(1), lesion[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
volumes = torch.randn(800, 1, 8, 8, 8)
lesion = torch.randint(0, 2, (800,)).float()
volumes[lesion == 1, :, 2:6, 2:6, 2:6] += 1.0

model = nn.Sequential(nn.Conv3d(1, 8, 3), nn.ReLU(), nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(8, 1))
num_epochs = 5
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
loss_fn = nn.BCEWithLogitsLoss()
for epoch in range(num_epochs):
    for i in range(0, 800, 16):
        loss = loss_fn(model(volumes[i:i + 16]).squeeze(1), lesion[i:i + 16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    scheduler.step()'''
FIX_LINES = [20]
STEPS = 30
