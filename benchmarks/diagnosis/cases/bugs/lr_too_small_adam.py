"""Fine-tuning with a small learning rate (5e-5) on some ten thousand examples: the loss does not go down."""

SOURCE = "https://github.com/OpenLMLab/LOMO/issues/50"
CAUSE = "lr-too-small"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, dim = 60, 64
tokens = torch.randint(0, vocab, (10000, 12))
labels = tokens[:, 0] % 6  # the first token decides the tag

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(12 * dim, 128), nn.GELU(), nn.Linear(128, 6))

    def forward(self, t):
        return self.mlp(self.emb(t).flatten(1))

model = Tagger()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-7)
for epoch in range(2):
    for i in range(0, 10000, 32):
        loss = F.cross_entropy(model(tokens[i:i + 32]), labels[i:i + 32])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, dim = 60, 64
tokens = torch.randint(0, vocab, (10000, 12))
labels = tokens[:, 0] % 6  # the first token decides the tag

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(12 * dim, 128), nn.GELU(), nn.Linear(128, 6))

    def forward(self, t):
        return self.mlp(self.emb(t).flatten(1))

model = Tagger()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
for epoch in range(2):
    for i in range(0, 10000, 32):
        loss = F.cross_entropy(model(tokens[i:i + 32]), labels[i:i + 32])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX_LINES = [20]
STEPS = 30
