"""A character-level LSTM language model keeps its states from the previous batch without detaching them, and the second backward fails."""

SOURCE = "https://github.com/yunjey/pytorch-tutorial/issues/90"
CAUSE = "hidden-state-not-detached"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
text = "the quick brown fox jumps over the lazy dog " * 60
chars = sorted(set(text))
ids = torch.tensor([chars.index(c) for c in text])
batch_size, seq_length = 8, 20
ids = ids[: len(ids) // batch_size * batch_size].view(batch_size, -1)

class RNNLM(nn.Module):
    def __init__(self, vocab_size, embed_size=16, hidden_size=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, h):
        out, h = self.lstm(self.embed(x), h)
        return self.linear(out), h

model = RNNLM(len(chars))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
for epoch in range(3):
    states = (torch.zeros(1, batch_size, 64), torch.zeros(1, batch_size, 64))
    for i in range(0, ids.size(1) - seq_length, seq_length):
        inputs = ids[:, i:i + seq_length]
        targets = ids[:, i + 1:i + 1 + seq_length]
        outputs, states = model(inputs, states)
        loss = criterion(outputs.reshape(-1, len(chars)), targets.reshape(-1))
        model.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
text = "the quick brown fox jumps over the lazy dog " * 60
chars = sorted(set(text))
ids = torch.tensor([chars.index(c) for c in text])
batch_size, seq_length = 8, 20
ids = ids[: len(ids) // batch_size * batch_size].view(batch_size, -1)

class RNNLM(nn.Module):
    def __init__(self, vocab_size, embed_size=16, hidden_size=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, h):
        out, h = self.lstm(self.embed(x), h)
        return self.linear(out), h

model = RNNLM(len(chars))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
for epoch in range(3):
    states = (torch.zeros(1, batch_size, 64), torch.zeros(1, batch_size, 64))
    for i in range(0, ids.size(1) - seq_length, seq_length):
        states = tuple(s.detach() for s in states)
        inputs = ids[:, i:i + seq_length]
        targets = ids[:, i + 1:i + 1 + seq_length]
        outputs, states = model(inputs, states)
        loss = criterion(outputs.reshape(-1, len(chars)), targets.reshape(-1))
        model.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [27, 28]
