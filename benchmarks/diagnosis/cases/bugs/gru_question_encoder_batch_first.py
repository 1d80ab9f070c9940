"""The question encoder feeds (batch, seq_len, input_size) embeddings to a GRU that expects (seq_len, batch, input_size) because batch_first is not set."""

SOURCE = "https://github.com/Cadene/vqa.pytorch/issues/40"
CAUSE = "batch-first-mismatch"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
vocab, seq_len = 200, 14
questions = torch.randint(1, vocab, (3000, seq_len))
answers = questions[:, -1] % 10  # the last word decides the answer type

class QuestionEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64)
        self.cls = nn.Linear(64, 10)

    def forward(self, q):
        _, h = self.gru(self.emb(q))
        return self.cls(h[-1])

model = QuestionEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 3000, 50):
        loss = nn.functional.cross_entropy(model(questions[i:i + 50]), answers[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
vocab, seq_len = 200, 14
questions = torch.randint(1, vocab, (3000, seq_len))
answers = questions[:, -1] % 10  # the last word decides the answer type

class QuestionEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.cls = nn.Linear(64, 10)

    def forward(self, q):
        _, h = self.gru(self.emb(q))
        return self.cls(h[-1])

model = QuestionEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, 3000, 50):
        loss = nn.functional.cross_entropy(model(questions[i:i + 50]), answers[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [13]
STEPS = 30
