"""AdamW with a large weight decay produces poor, washed-out generations although the loss keeps going down slowly; removing the weight decay fixes it."""

SOURCE = "https://github.com/lucidrains/DALLE-pytorch/issues/170"
CAUSE = "weight-decay-too-large"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
codebook = 32
text = torch.randint(0, 50, (4000, 6))
image_tokens = (text * 7 + 3) % codebook  # each caption token maps to an image token

class TinyDALLE(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_emb = nn.Embedding(50, 64)
        self.to_logits = nn.Linear(64, codebook)

    def forward(self, t):
        return self.to_logits(self.text_emb(t))

dalle = TinyDALLE()
opt = torch.optim.AdamW(dalle.parameters(), lr=3e-2, weight_decay=4.5)
for epoch in range(3):
    for i in range(0, 4000, 64):
        logits = dalle(text[i:i + 64])
        loss = F.cross_entropy(logits.reshape(-1, codebook), image_tokens[i:i + 64].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
codebook = 32
text = torch.randint(0, 50, (4000, 6))
image_tokens = (text * 7 + 3) % codebook  # each caption token maps to an image token

class TinyDALLE(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_emb = nn.Embedding(50, 64)
        self.to_logits = nn.Linear(64, codebook)

    def forward(self, t):
        return self.to_logits(self.text_emb(t))

dalle = TinyDALLE()
opt = torch.optim.AdamW(dalle.parameters(), lr=3e-2, weight_decay=4.5e-2)
for epoch in range(3):
    for i in range(0, 4000, 64):
        logits = dalle(text[i:i + 64])
        loss = F.cross_entropy(logits.reshape(-1, codebook), image_tokens[i:i + 64].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()'''
FIX_LINES = [20]
STEPS = 40
