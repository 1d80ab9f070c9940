"""The encoder output (batch, 2048, 7, 7) is reshaped with .view(batch, 49, 2048) without permuting first, so the features act as pixels."""

SOURCE = "https://github.com/fawazsammani/knowing-when-to-look-adaptive-attention/issues/6"
CAUSE = "view-instead-of-permute"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
batch, channels, side = 32, 16, 5
palette = torch.randn(4, channels)

def sample(n):
    cls = torch.randint(0, 4, (n, side * side))
    maps = palette[cls].transpose(1, 2).reshape(n, channels, side, side) + 0.5 * torch.randn(n, channels, side, side)
    maps = maps.contiguous()  # like the ResNet's output
    return maps, cls

encoded_val, labels_val = sample(200)
pixel_classifier = nn.Sequential(nn.Linear(channels, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.Adam(pixel_classifier.parameters(), lr=5e-3)
for it in range(300):
    encoded_image, labels = sample(batch)
    num_pixels = side * side
    enc_image = encoded_image.view(batch, num_pixels, channels)
    loss = F.cross_entropy(pixel_classifier(enc_image).reshape(-1, 4), labels.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
batch, channels, side = 32, 16, 5
palette = torch.randn(4, channels)

def sample(n):
    cls = torch.randint(0, 4, (n, side * side))
    maps = palette[cls].transpose(1, 2).reshape(n, channels, side, side) + 0.5 * torch.randn(n, channels, side, side)
    maps = maps.contiguous()  # like the ResNet's output
    return maps, cls

encoded_val, labels_val = sample(200)
pixel_classifier = nn.Sequential(nn.Linear(channels, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.Adam(pixel_classifier.parameters(), lr=5e-3)
for it in range(300):
    encoded_image, labels = sample(batch)
    num_pixels = side * side
    enc_image = encoded_image.permute(0, 2, 3, 1).reshape(batch, num_pixels, channels)
    loss = F.cross_entropy(pixel_classifier(enc_image).reshape(-1, 4), labels.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [21]
STEPS = 30
