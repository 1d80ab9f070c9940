"""makemore.py bigram: a zero-initialised logits table, targets padded with -1, AdamW."""
SOURCE = "https://github.com/karpathy/makemore/blob/master/makemore.py"
PROGRAM = "karpathy/makemore: makemore.py (bigram)"
CELL = '''
import argparse
import math
import random
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.data import Dataset, DataLoader


@dataclass
class ModelConfig:
    block_size: int = None
    vocab_size: int = None
    n_layer: int = 4
    n_embd: int = 64
    n_embd2: int = 64
    n_head: int = 4


class CharDataset(Dataset):
    def __init__(self, words, chars, max_word_length):
        self.words = words
        self.chars = chars
        self.max_word_length = max_word_length
        self.stoi = {ch: i + 1 for i, ch in enumerate(chars)}
        self.itos = {i: s for s, i in self.stoi.items()}

    def __len__(self):
        return len(self.words)

    def get_vocab_size(self):
        return len(self.chars) + 1

    def get_output_length(self):
        return self.max_word_length + 1

    def encode(self, word):
        return torch.tensor([self.stoi[w] for w in word], dtype=torch.long)

    def __getitem__(self, idx):
        word = self.words[idx]
        ix = self.encode(word)
        x = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        y = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        x[1:1 + len(ix)] = ix
        y[:len(ix)] = ix
        y[len(ix) + 1:] = -1  # index -1 will mask the loss at the inactive locations
        return x, y


def create_datasets():
    """names.txt's role, played by names made of a few syllables."""
    rng = random.Random(0)
    syllables = ['an', 'el', 'ma', 'ri', 'jo', 'li', 'sa', 'ka',
                 'ne', 'ro', 'ty', 'mi', 'da', 'ch', 'ey', 'la']
    words = [''.join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(3000)]
    chars = sorted(list(set(''.join(words))))
    max_word_length = max(len(w) for w in words)
    test_set_size = min(1000, int(len(words) * 0.1))
    rp = torch.randperm(len(words)).tolist()
    train_words = [words[i] for i in rp[:-test_set_size]]
    test_words = [words[i] for i in rp[-test_set_size:]]
    return CharDataset(train_words, chars, max_word_length), CharDataset(test_words, chars, max_word_length)


class InfiniteDataLoader:
    def __init__(self, dataset, **kwargs):
        train_sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=int(1e10))
        self.train_loader = DataLoader(dataset, sampler=train_sampler, **kwargs)
        self.data_iter = iter(self.train_loader)

    def next(self):
        try:
            batch = next(self.data_iter)
        except StopIteration:
            self.data_iter = iter(self.train_loader)
            batch = next(self.data_iter)
        return batch



class Bigram(nn.Module):
    """Bigram Language Model 'neural net', simply a lookup table of logits for the next character
    given a previous character."""

    def __init__(self, config):
        super().__init__()
        n = config.vocab_size
        self.logits = nn.Parameter(torch.zeros((n, n)))

    def get_block_size(self):
        return 1

    def forward(self, idx, targets=None):
        logits = self.logits[idx]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


parser = argparse.ArgumentParser(description="Make More")
parser.add_argument('--max-steps', type=int, default=-1)
parser.add_argument('--device', type=str, default='cpu')
parser.add_argument('--seed', type=int, default=3407)
parser.add_argument('--type', type=str, default='bigram')
parser.add_argument('--batch-size', '-b', type=int, default=32)
parser.add_argument('--learning-rate', '-l', type=float, default=5e-4)
parser.add_argument('--weight-decay', '-w', type=float, default=0.01)
args = parser.parse_args([])
torch.manual_seed(args.seed)
train_dataset, test_dataset = create_datasets()
vocab_size = train_dataset.get_vocab_size()
block_size = train_dataset.get_output_length()
config = ModelConfig(vocab_size=vocab_size, block_size=block_size)
model = Bigram(config)
model.to(args.device)
optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay,
                              betas=(0.9, 0.99), eps=1e-8)
batch_loader = InfiniteDataLoader(train_dataset, batch_size=args.batch_size, num_workers=0)
best_loss = None
step = 0
while True:
    t0 = time.time()
    batch = batch_loader.next()
    batch = [t.to(args.device) for t in batch]
    X, Y = batch
    logits, loss = model(X, Y)
    model.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    t1 = time.time()
    if step % 10 == 0:
        print(f"step {step} | loss {loss.item():.4f} | step time {(t1 - t0) * 1000:.2f}ms")
    step += 1
    if args.max_steps >= 0 and step >= args.max_steps:
        break
'''
STEPS = 10
