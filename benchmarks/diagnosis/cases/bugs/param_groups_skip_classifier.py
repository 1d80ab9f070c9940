"""The optimizer's parameter groups are built per sub-module with their own learning rates, and the group of the final classifier is never appended, so the classifier is not trained."""

SOURCE = "https://github.com/zjunlp/HVPNeT/issues/5"
CAUSE = "params-missing-from-optimizer"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
vocab, n_tags = 50, 5
tokens = torch.randint(0, vocab, (1024, 12))
tags = (tokens * 7 + 3) % n_tags

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(vocab, 32)
        self.mixer = nn.Linear(32, 32)
        self.fc = nn.Linear(32, n_tags)

    def forward(self, x):
        return self.fc(torch.relu(self.mixer(self.encoder(x))))

model = Tagger()
parameters = []
params = {"lr": 1e-2, "params": []}
for name, param in model.named_parameters():
    if "encoder" in name:
        params["params"].append(param)
parameters.append(params)
params = {"lr": 1e-2, "params": []}
for name, param in model.named_parameters():
    if "mixer" in name:
        params["params"].append(param)
parameters.append(params)
params = {"lr": 2e-2, "params": []}
for name, param in model.named_parameters():
    if "fc" in name:
        params["params"].append(param)
optimizer = torch.optim.AdamW(parameters)
criterion = nn.CrossEntropyLoss()

for epoch in range(3):
    for i in range(0, 1024, 32):
        logits = model(tokens[i:i + 32])
        loss = criterion(logits.reshape(-1, n_tags), tags[i:i + 32].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
vocab, n_tags = 50, 5
tokens = torch.randint(0, vocab, (1024, 12))
tags = (tokens * 7 + 3) % n_tags

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(vocab, 32)
        self.mixer = nn.Linear(32, 32)
        self.fc = nn.Linear(32, n_tags)

    def forward(self, x):
        return self.fc(torch.relu(self.mixer(self.encoder(x))))

model = Tagger()
parameters = []
params = {"lr": 1e-2, "params": []}
for name, param in model.named_parameters():
    if "encoder" in name:
        params["params"].append(param)
parameters.append(params)
params = {"lr": 1e-2, "params": []}
for name, param in model.named_parameters():
    if "mixer" in name:
        params["params"].append(param)
parameters.append(params)
params = {"lr": 2e-2, "params": []}
for name, param in model.named_parameters():
    if "fc" in name:
        params["params"].append(param)
parameters.append(params)
optimizer = torch.optim.AdamW(parameters)
criterion = nn.CrossEntropyLoss()

for epoch in range(3):
    for i in range(0, 1024, 32):
        logits = model(tokens[i:i + 32])
        loss = criterion(logits.reshape(-1, n_tags), tags[i:i + 32].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [34, 35]
STEPS = 30
