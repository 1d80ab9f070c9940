"""cross_entropy is called with the default ignore_index=-100 although the [PAD] token's index is 0, so padding positions count in the loss."""

SOURCE = "https://github.com/lukas-blecher/LaTeX-OCR/issues/305"
CAUSE = "padding-not-masked"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
PAD, vocab, max_len = 0, 40, 24
def make(n):
    lengths = torch.randint(3, 9, (n,))
    feats = torch.randn(n, max_len, 16)
    tokens = (feats[:, :, :4].argmax(-1) * 9 + feats[:, :, 4:8].argmax(-1) + 1) % (vocab - 1) + 1
    pad = torch.arange(max_len)[None] >= lengths[:, None]
    tokens[pad] = PAD
    return feats, tokens
X, Y = make(3000)
X_val, Y_val = make(500)

decoder = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, vocab))
optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 3000, 50):
        out = decoder(X[i:i + 50])
        loss = F.cross_entropy(out.transpose(1, 2), Y[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
PAD, vocab, max_len = 0, 40, 24
def make(n):
    lengths = torch.randint(3, 9, (n,))
    feats = torch.randn(n, max_len, 16)
    tokens = (feats[:, :, :4].argmax(-1) * 9 + feats[:, :, 4:8].argmax(-1) + 1) % (vocab - 1) + 1
    pad = torch.arange(max_len)[None] >= lengths[:, None]
    tokens[pad] = PAD
    return feats, tokens
X, Y = make(3000)
X_val, Y_val = make(500)

decoder = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, vocab))
optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
for epoch in range(3):
    for i in range(0, 3000, 50):
        out = decoder(X[i:i + 50])
        loss = F.cross_entropy(out.transpose(1, 2), Y[i:i + 50], ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [22]
STEPS = 30
HELD = 'F.cross_entropy(decoder(X_val).transpose(1, 2), Y_val, ignore_index=PAD).item()'
