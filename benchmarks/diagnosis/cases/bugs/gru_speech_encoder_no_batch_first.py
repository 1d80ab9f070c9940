"""A GRU speech encoder gets (batch, time, features) input but is built without batch_first=True; the model did not converge until batch_first was set."""

SOURCE = "https://github.com/Svito-zar/gesticulator/issues/62"
CAUSE = "batch-first-mismatch"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
frames = torch.randn(1024, 30, 26)  # (batch, time, audio features)
motion = frames[:, :, :4].mean(1) * 3  # the pose depends on the whole clip

class SpeechEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(26, 64)
        self.out = nn.Linear(64, 4)

    def forward(self, curr_speech):
        encoded, _ = self.gru(curr_speech)
        return self.out(encoded[:, -1])

model = SpeechEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        pred = model(frames[i:i + 64])
        loss = nn.functional.mse_loss(pred, motion[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
frames = torch.randn(1024, 30, 26)  # (batch, time, audio features)
motion = frames[:, :, :4].mean(1) * 3  # the pose depends on the whole clip

class SpeechEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(26, 64, batch_first=True)
        self.out = nn.Linear(64, 4)

    def forward(self, curr_speech):
        encoded, _ = self.gru(curr_speech)
        return self.out(encoded[:, -1])

model = SpeechEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 1024, 64):
        pred = model(frames[i:i + 64])
        loss = nn.functional.mse_loss(pred, motion[i:i + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [11]
STEPS = 40
