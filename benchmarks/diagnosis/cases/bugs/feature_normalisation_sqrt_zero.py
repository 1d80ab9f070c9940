"""'Function SqrtBackward returned nan values': normalize_tensor divides by torch.sqrt(sum(x**2)) and some feature vectors are exactly zero."""

SOURCE = "https://github.com/richzhang/PerceptualSimilarity/issues/69"
CAUSE = "sqrt-at-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

def normalize_tensor(in_feat, eps=1e-10):
    norm_factor = torch.sqrt(torch.sum(in_feat ** 2, dim=1, keepdim=True))
    return in_feat / (norm_factor + eps)

features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, bias=False))
lin = nn.Conv2d(16, 1, 1, bias=False)
ref = torch.rand(256, 3, 12, 12)
ref[:, :, :4] = 0.0  # black borders
dist = torch.rand(256, 3, 12, 12) * 0.5 + ref * 0.5
human = (dist - ref).abs().mean((1, 2, 3))
optimizer = torch.optim.Adam(list(features.parameters()) + list(lin.parameters()), lr=1e-3)
for epoch in range(5):
    for i in range(0, 256, 16):
        f0, f1 = normalize_tensor(features(ref[i:i + 16])), normalize_tensor(features(dist[i:i + 16]))
        d = lin((f0 - f1) ** 2).mean((1, 2, 3))
        loss = ((d - human[i:i + 16]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)

def normalize_tensor(in_feat, eps=1e-10):
    norm_factor = torch.sqrt(torch.sum(in_feat ** 2, dim=1, keepdim=True) + eps)
    return in_feat / (norm_factor + eps)

features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, bias=False))
lin = nn.Conv2d(16, 1, 1, bias=False)
ref = torch.rand(256, 3, 12, 12)
ref[:, :, :4] = 0.0  # black borders
dist = torch.rand(256, 3, 12, 12) * 0.5 + ref * 0.5
human = (dist - ref).abs().mean((1, 2, 3))
optimizer = torch.optim.Adam(list(features.parameters()) + list(lin.parameters()), lr=1e-3)
for epoch in range(5):
    for i in range(0, 256, 16):
        f0, f1 = normalize_tensor(features(ref[i:i + 16])), normalize_tensor(features(dist[i:i + 16]))
        d = lin((f0 - f1) ** 2).mean((1, 2, 3))
        loss = ((d - human[i:i + 16]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [7]
STEPS = 20
