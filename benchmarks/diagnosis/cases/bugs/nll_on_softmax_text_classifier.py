"""A text classifier's forward ends in softmax and the loss is nn.NLLLoss; the loss is negative and accuracy stays low."""

SOURCE = "https://github.com/AnubhavGupta3377/Text-Classification-Models-Pytorch/issues/9"
CAUSE = "nll-on-probabilities"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes, seq = 500, 20, 24
keywords = torch.randint(1, vocab, (classes, 6))

def make(n):
    labels = torch.randint(0, classes, (n,))
    tokens = torch.randint(1, vocab, (n, seq))
    pos = torch.randint(0, seq, (n, 4))
    tokens.scatter_(1, pos, keywords[labels][:, :4])
    return tokens, labels

X_train, y_train = make(4096)
X_val, y_val = make(512)

class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, 64)
        self.fc = nn.Linear(64, classes)

    def forward(self, tokens):
        h = self.embed(tokens).mean(dim=1)
        return F.softmax(self.fc(h), dim=1)

model = TextClassifier()
criterion = nn.NLLLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(200):
    idx = torch.randint(0, len(X_train), (128,))
    optimizer.zero_grad()
    loss = criterion(model(X_train[idx]), y_train[idx])
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes, seq = 500, 20, 24
keywords = torch.randint(1, vocab, (classes, 6))

def make(n):
    labels = torch.randint(0, classes, (n,))
    tokens = torch.randint(1, vocab, (n, seq))
    pos = torch.randint(0, seq, (n, 4))
    tokens.scatter_(1, pos, keywords[labels][:, :4])
    return tokens, labels

X_train, y_train = make(4096)
X_val, y_val = make(512)

class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, 64)
        self.fc = nn.Linear(64, classes)

    def forward(self, tokens):
        h = self.embed(tokens).mean(dim=1)
        return F.log_softmax(self.fc(h), dim=1)

model = TextClassifier()
criterion = nn.NLLLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(200):
    idx = torch.randint(0, len(X_train), (128,))
    optimizer.zero_grad()
    loss = criterion(model(X_train[idx]), y_train[idx])
    loss.backward()
    optimizer.step()'''
FIX_LINES = [27]
STEPS = 20
HELD = '1 - (model(X_val).argmax(1) == y_val).float().mean().item()'
