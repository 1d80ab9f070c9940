"""Images stored as (batch, height, width, channels) are reshaped to (batch, channels, height, width) instead of permuted, which scrambles the channels across pixels."""

SOURCE = "https://github.com/Selen-Suyue/DensePolicy2D/issues/3"
CAUSE = "view-instead-of-permute"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
n, h, w = 1200, 12, 12
img = torch.rand(n, h, w, 3) * 0.3  # camera frames, channels last
action = torch.randint(0, 3, (n,))
for k in range(3):  # the colour of the target object decides the action
    img[action == k, 2:10, 2:10, k] += 0.7

policy = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                       nn.Linear(16, 3))
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, n, 40):
        obs = img[i:i + 40].reshape(-1, 3, h, w)
        loss = F.cross_entropy(policy(obs), action[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
n, h, w = 1200, 12, 12
img = torch.rand(n, h, w, 3) * 0.3  # camera frames, channels last
action = torch.randint(0, 3, (n,))
for k in range(3):  # the colour of the target object decides the action
    img[action == k, 2:10, 2:10, k] += 0.7

policy = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                       nn.Linear(16, 3))
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, n, 40):
        obs = img[i:i + 40].permute(0, 3, 1, 2)
        loss = F.cross_entropy(policy(obs), action[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [17]
STEPS = 30
