"""After refactoring, the model object is built again after the optimizer was created, so the optimizer updates the parameters of a model that is no longer used and the loss does not change."""

SOURCE = "https://github.com/pytorch/pytorch/issues/14467"
CAUSE = "optimizer-on-stale-model"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
vocab = 5
seqs = torch.randint(0, vocab, (1024, 12))
valid = (seqs == 1).sum(1) == (seqs == 2).sum(1)  # as many '(' as ')'
labels = valid.long()

class BracketRNN(nn.Module):
    def __init__(self, hidden_size, memory=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, hidden_size, batch_first=True) if memory else None
        self.head = nn.Linear(hidden_size if memory else 16, 2)

    def forward(self, x):
        h = self.embed(x)
        if self.rnn is not None:
            h, _ = self.rnn(h)
        return self.head(h[:, -1])

model = BracketRNN(32)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()

model = BracketRNN(32, memory=True)
for epoch in range(3):
    for i in range(0, 1024, 32):
        optimizer.zero_grad()
        loss = criterion(model(seqs[i:i + 32]), labels[i:i + 32])
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
vocab = 5
seqs = torch.randint(0, vocab, (1024, 12))
valid = (seqs == 1).sum(1) == (seqs == 2).sum(1)  # as many '(' as ')'
labels = valid.long()

class BracketRNN(nn.Module):
    def __init__(self, hidden_size, memory=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, hidden_size, batch_first=True) if memory else None
        self.head = nn.Linear(hidden_size if memory else 16, 2)

    def forward(self, x):
        h = self.embed(x)
        if self.rnn is not None:
            h, _ = self.rnn(h)
        return self.head(h[:, -1])

model = BracketRNN(32)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()

for epoch in range(3):
    for i in range(0, 1024, 32):
        optimizer.zero_grad()
        loss = criterion(model(seqs[i:i + 32]), labels[i:i + 32])
        loss.backward()
        optimizer.step()'''
FIX_LINES = [27]
STEPS = 30
