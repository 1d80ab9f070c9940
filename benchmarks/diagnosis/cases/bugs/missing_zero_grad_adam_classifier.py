"""The training step never zeroes the optimizer's gradients ('fixing a dumb bug where we weren't zeroing grad on optimizers after each step')."""

SOURCE = "https://github.com/meta-pytorch/torchforge/pull/71"
CAUSE = "missing-zero-grad"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes = 300, 5
topic_words = torch.randint(0, vocab, (classes, 10))
def batch(n=32):
    y = torch.randint(0, classes, (n,))
    tokens = torch.randint(0, vocab, (n, 20))
    tokens[:, :5] = topic_words[y][:, torch.randint(0, 10, (5,))]
    return tokens, y

class BagOfWords(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.EmbeddingBag(vocab, 32)
        self.out = nn.Linear(32, classes)

    def forward(self, tokens):
        return self.out(self.emb(tokens))

model = BagOfWords()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)

def train_step(tokens, labels):
    loss = F.cross_entropy(model(tokens), labels)
    loss.backward()
    optimizer.step()
    return loss.item()

X_val, y_val = batch(500)
for step in range(300):
    train_step(*batch())'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
vocab, classes = 300, 5
topic_words = torch.randint(0, vocab, (classes, 10))
def batch(n=32):
    y = torch.randint(0, classes, (n,))
    tokens = torch.randint(0, vocab, (n, 20))
    tokens[:, :5] = topic_words[y][:, torch.randint(0, 10, (5,))]
    return tokens, y

class BagOfWords(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.EmbeddingBag(vocab, 32)
        self.out = nn.Linear(32, classes)

    def forward(self, tokens):
        return self.out(self.emb(tokens))

model = BagOfWords()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)

def train_step(tokens, labels):
    loss = F.cross_entropy(model(tokens), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()

X_val, y_val = batch(500)
for step in range(300):
    train_step(*batch())'''
FIX_LINES = [29, 30]
STEPS = 60
HELD = 'F.cross_entropy(model(X_val), y_val).item()'
