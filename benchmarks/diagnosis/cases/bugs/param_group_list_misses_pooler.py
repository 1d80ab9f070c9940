"""A text classifier's optimizer is built from a hand-made list of parameter groups (encoder at a lower rate, then the head); a pooler layer added to the model later is never given a group, so it keeps its initial weights ('pooler ... was not added to optimizer params group')."""

SOURCE = "https://github.com/facebookresearch/mmf/pull/620"
CAUSE = "params-missing-from-optimizer"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes = 200, 4
topic = torch.randn(classes, 32)
labels = torch.randint(0, classes, (4000,))
features = topic[labels] + 0.8 * torch.randn(4000, 32)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
        self.pooler = nn.Sequential(nn.Linear(64, 64), nn.Tanh())
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        return self.classifier(self.pooler(self.encoder(x)))


model = Classifier()
param_groups = [{"params": model.encoder.parameters(), "lr": 1e-3}]
param_groups.append({"params": model.classifier.parameters(), "lr": 1e-2})
optimizer = torch.optim.Adam(param_groups)
for epoch in range(3):
    for i in range(0, 4000, 50):
        loss = F.cross_entropy(model(features[i:i + 50]), labels[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes = 200, 4
topic = torch.randn(classes, 32)
labels = torch.randint(0, classes, (4000,))
features = topic[labels] + 0.8 * torch.randn(4000, 32)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
        self.pooler = nn.Sequential(nn.Linear(64, 64), nn.Tanh())
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        return self.classifier(self.pooler(self.encoder(x)))


model = Classifier()
param_groups = [{"params": model.encoder.parameters(), "lr": 1e-3}]
param_groups.append({"params": model.classifier.parameters(), "lr": 1e-2})
param_groups.append({"params": model.pooler.parameters(), "lr": 1e-2})
optimizer = torch.optim.Adam(param_groups)
for epoch in range(3):
    for i in range(0, 4000, 50):
        loss = F.cross_entropy(model(features[i:i + 50]), labels[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [25, 26]
STEPS = 40
HELD = "F.cross_entropy(model(features[-1000:]), labels[-1000:]).item()"
