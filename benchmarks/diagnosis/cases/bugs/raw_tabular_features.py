"""The loss is very large (>9) and does not converge: the raw features were neither discretised nor normalised."""

SOURCE = "https://github.com/alibaba/EasyRec/issues/23"
CAUSE = "unnormalised-inputs"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 5000
price = torch.rand(n) * 5000
views = torch.rand(n) * 1e5
age_days = torch.rand(n) * 3650
raw = torch.stack([price, views, age_days], dim=1)
clicked = ((views / 1e5 - price / 5000 + 0.2 * torch.randn(n)) > 0).float()
mean, std = raw.mean(0), raw.std(0)

def featurize(raw):
    return raw

ctr_model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(ctr_model.parameters(), lr=0.05)
for epoch in range(3):
    for i in range(0, n - 500, 100):
        logit = ctr_model(featurize(raw[i:i + 100])).squeeze(1)
        loss = nn.functional.binary_cross_entropy_with_logits(logit, clicked[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 5000
price = torch.rand(n) * 5000
views = torch.rand(n) * 1e5
age_days = torch.rand(n) * 3650
raw = torch.stack([price, views, age_days], dim=1)
clicked = ((views / 1e5 - price / 5000 + 0.2 * torch.randn(n)) > 0).float()
mean, std = raw.mean(0), raw.std(0)

def featurize(raw):
    return (raw - mean) / std

ctr_model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(ctr_model.parameters(), lr=0.05)
for epoch in range(3):
    for i in range(0, n - 500, 100):
        logit = ctr_model(featurize(raw[i:i + 100])).squeeze(1)
        loss = nn.functional.binary_cross_entropy_with_logits(logit, clicked[i:i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [14]
STEPS = 30
HELD = '((ctr_model(featurize(raw[-500:])).squeeze(1) > 0).float() != clicked[-500:]).float().mean().item()'
