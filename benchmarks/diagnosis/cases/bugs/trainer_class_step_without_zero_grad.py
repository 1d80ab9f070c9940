"""A court-keypoint trainer's train_step method runs backward() and step() but never zero_grad() ('Why there is no optimizer.zero_grad() in base_trainer.py?')."""

SOURCE = "https://github.com/yastrebksv/TennisCourtDetector/issues/7"
CAUSE = "missing-zero-grad"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
frames = torch.randn(3000, 48)
corners = torch.tanh(frames @ torch.randn(48, 8) / 6)


class Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def train_step(self, images, points):
        pred = self.model(images)
        loss = F.mse_loss(pred, points)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self, epochs, batch_size=60):
        for epoch in range(epochs):
            for i in range(0, len(frames), batch_size):
                self.train_step(frames[i:i + batch_size], corners[i:i + batch_size])


net = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 8))
Trainer(net, lr=0.02).fit(epochs=2)'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
frames = torch.randn(3000, 48)
corners = torch.tanh(frames @ torch.randn(48, 8) / 6)


class Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def train_step(self, images, points):
        self.optimizer.zero_grad()
        pred = self.model(images)
        loss = F.mse_loss(pred, points)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self, epochs, batch_size=60):
        for epoch in range(epochs):
            for i in range(0, len(frames), batch_size):
                self.train_step(frames[i:i + batch_size], corners[i:i + batch_size])


net = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 8))
Trainer(net, lr=0.02).fit(epochs=2)'''
FIX_LINES = [15, 16]
STEPS = 30
