"""Training passes raw frame logits to torch.nn.functional.ctc_loss, which expects log-probabilities; the CTC loss goes negative."""

SOURCE = "https://github.com/gwx314/STARS/issues/9"
CAUSE = "ctc-without-log-softmax"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
T, B, C, L = 30, 16, 6, 5  # frames, batch, phonemes incl. blank 0, label length
emb = torch.randn(C, 8)

def batch(n=B):
    labels = torch.randint(1, C, (n, L))
    frames = labels.repeat_interleave(T // L, dim=1)  # each phoneme lasts 6 frames
    x = emb[frames] + 0.5 * torch.randn(n, T, 8)
    return x.transpose(0, 1), labels

class PhonemeRecognizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 32)
        self.out = nn.Linear(32, C)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h)

model = PhonemeRecognizer()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
in_len, tgt_len = torch.full((B,), T), torch.full((B,), L)
val_x, val_y = batch(64)
for step in range(300):
    x, y = batch()
    ph_frame_logits = model(x)
    loss = F.ctc_loss(ph_frame_logits, y, in_len, tgt_len)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
T, B, C, L = 30, 16, 6, 5  # frames, batch, phonemes incl. blank 0, label length
emb = torch.randn(C, 8)

def batch(n=B):
    labels = torch.randint(1, C, (n, L))
    frames = labels.repeat_interleave(T // L, dim=1)  # each phoneme lasts 6 frames
    x = emb[frames] + 0.5 * torch.randn(n, T, 8)
    return x.transpose(0, 1), labels

class PhonemeRecognizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 32)
        self.out = nn.Linear(32, C)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h)

model = PhonemeRecognizer()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
in_len, tgt_len = torch.full((B,), T), torch.full((B,), L)
val_x, val_y = batch(64)
for step in range(300):
    x, y = batch()
    ph_frame_logits = model(x)
    loss = F.ctc_loss(ph_frame_logits.log_softmax(2), y, in_len, tgt_len)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [32]
STEPS = 30
HELD = 'F.ctc_loss(model(val_x).log_softmax(2), val_y, torch.full((64,), T), torch.full((64,), L)).item()'
