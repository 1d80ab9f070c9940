"""Sometimes the initial solution predicts only zeros because of the ReLU activation on the output, and then no gradients emerge."""

SOURCE = "https://github.com/jvargasmu/population_estimation/issues/68"
CAUSE = "relu-on-output"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(3)
features = torch.randn(3000, 12)
log_density = features[:, :4].sum(1, keepdim=True) * 0.5 + 1.0

scale_net = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1), nn.ReLU())
with torch.no_grad():
    scale_net[2].bias.fill_(-3.0)
optimizer = torch.optim.Adam(scale_net.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 3000, 64):
        loss = nn.functional.l1_loss(scale_net(features[i:i + 64]), log_density[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(3)
features = torch.randn(3000, 12)
log_density = features[:, :4].sum(1, keepdim=True) * 0.5 + 1.0

scale_net = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1), nn.Softplus())
with torch.no_grad():
    scale_net[2].bias.fill_(-3.0)
optimizer = torch.optim.Adam(scale_net.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 3000, 64):
        loss = nn.functional.l1_loss(scale_net(features[i:i + 64]), log_density[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [8]
STEPS = 40
HELD = '(scale_net(features) - log_density).abs().mean().item()'
