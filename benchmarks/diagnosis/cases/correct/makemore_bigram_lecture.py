"""makemore part 1: a one-hot bigram net, full batch, W.data += -50 * W.grad."""
SOURCE = "https://github.com/karpathy/nn-zero-to-hero/blob/master/lectures/makemore/makemore_part1_bigrams.ipynb"
PROGRAM = "karpathy/nn-zero-to-hero: makemore part 1 (bigram)"
CELL = '''
import random
import torch
import torch.nn.functional as F

def synthetic_names(n, seed):
    """Lower-case names built from a few syllables, as names.txt would give: '.' ends a name."""
    rng = random.Random(seed)
    syllables = ['an', 'el', 'ma', 'ri', 'jo', 'li', 'sa', 'ka',
                 'ne', 'ro', 'ty', 'mi', 'da', 'ch', 'ey', 'la']
    return [''.join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(n)]


words = synthetic_names(3000, 42)
chars = sorted(list(set(''.join(words)) | set('abcdefghijklmnopqrstuvwxyz')))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi['.'] = 0
itos = {i: s for s, i in stoi.items()}
vocab_size = len(itos)


xs, ys = [], []
for w in words:
    chs = ['.'] + list(w) + ['.']
    for ch1, ch2 in zip(chs, chs[1:]):
        xs.append(stoi[ch1])
        ys.append(stoi[ch2])
xs = torch.tensor(xs)
ys = torch.tensor(ys)
num = xs.nelement()
print('number of examples: ', num)

g = torch.Generator().manual_seed(2147483647)
W = torch.randn((27, 27), generator=g, requires_grad=True)

for k in range(100):
    # forward pass
    xenc = F.one_hot(xs, num_classes=27).float()
    logits = xenc @ W
    counts = logits.exp()
    probs = counts / counts.sum(1, keepdims=True)
    loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W ** 2).mean()
    print(loss.item())
    # backward pass
    W.grad = None
    loss.backward()
    # update
    W.data += -50 * W.grad
'''
STEPS = 10
