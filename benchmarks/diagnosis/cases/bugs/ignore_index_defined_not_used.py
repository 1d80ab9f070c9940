"""ignore_index is defined in the model but not used in F.cross_entropy, so the text padding is trained on as if it were content."""

SOURCE = "https://github.com/lucidrains/DALLE-pytorch/issues/57"
CAUSE = "padding-not-masked"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
num_text_tokens, text_seq_len = 50, 16

class CaptionLM(nn.Module):
    def __init__(self, ignore_index=0):
        super().__init__()
        self.ignore_index = ignore_index
        self.emb = nn.Embedding(num_text_tokens, 32)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.to_logits = nn.Linear(64, num_text_tokens)

    def forward(self, text):
        h, _ = self.rnn(self.emb(text[:, :-1]))
        logits = self.to_logits(h)
        return F.cross_entropy(logits.transpose(1, 2), text[:, 1:])

def captions(n):
    start = torch.randint(1, num_text_tokens, (n, 1))
    text = (start + 3 * torch.arange(text_seq_len)) % (num_text_tokens - 1) + 1  # a learnable pattern
    lengths = torch.randint(4, 8, (n, 1))
    return text.masked_fill(torch.arange(text_seq_len) >= lengths, 0)  # 0 is the padding token

val = captions(300)
model = CaptionLM()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for step in range(300):
    loss = model(captions(32))
    opt.zero_grad()
    loss.backward()
    opt.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
num_text_tokens, text_seq_len = 50, 16

class CaptionLM(nn.Module):
    def __init__(self, ignore_index=0):
        super().__init__()
        self.ignore_index = ignore_index
        self.emb = nn.Embedding(num_text_tokens, 32)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.to_logits = nn.Linear(64, num_text_tokens)

    def forward(self, text):
        h, _ = self.rnn(self.emb(text[:, :-1]))
        logits = self.to_logits(h)
        return F.cross_entropy(logits.transpose(1, 2), text[:, 1:], ignore_index=self.ignore_index)

def captions(n):
    start = torch.randint(1, num_text_tokens, (n, 1))
    text = (start + 3 * torch.arange(text_seq_len)) % (num_text_tokens - 1) + 1  # a learnable pattern
    lengths = torch.randint(4, 8, (n, 1))
    return text.masked_fill(torch.arange(text_seq_len) >= lengths, 0)  # 0 is the padding token

val = captions(300)
model = CaptionLM()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for step in range(300):
    loss = model(captions(32))
    opt.zero_grad()
    loss.backward()
    opt.step()'''
FIX_LINES = [19]
STEPS = 40
HELD = 'F.cross_entropy(model.to_logits(model.rnn(model.emb(val[:, :-1]))[0]).transpose(1, 2), val[:, 1:], ignore_index=0).item()'
