"""Training the belief-map network, the loss goes to inf and then NaN; the maintainer's advice is to give it a lower learning rate."""

SOURCE = "https://github.com/NVlabs/Deep_Object_Pose/issues/74"
CAUSE = "lr-too-large"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.rand(400, 3, 16, 16)
yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
cx, cy = torch.randint(2, 14, (400,)).float(), torch.randint(2, 14, (400,)).float()
beliefs = torch.exp(-((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2) / 4).unsqueeze(1)
images[:, 0:1] += beliefs  # the object is visible where its belief peaks

net = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 1, 3, padding=1),
)
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(5):
    for i in range(0, 400, 16):
        output_belief = net(images[i:i + 16])
        loss = F.mse_loss(output_belief, beliefs[i:i + 16]) * 100
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.rand(400, 3, 16, 16)
yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
cx, cy = torch.randint(2, 14, (400,)).float(), torch.randint(2, 14, (400,)).float()
beliefs = torch.exp(-((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2) / 4).unsqueeze(1)
images[:, 0:1] += beliefs  # the object is visible where its belief peaks

net = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 1, 3, padding=1),
)
optimizer = torch.optim.SGD(net.parameters(), lr=3e-4, momentum=0.9)
for epoch in range(5):
    for i in range(0, 400, 16):
        output_belief = net(images[i:i + 16])
        loss = F.mse_loss(output_belief, beliefs[i:i + 16]) * 100
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [17]
STEPS = 30
