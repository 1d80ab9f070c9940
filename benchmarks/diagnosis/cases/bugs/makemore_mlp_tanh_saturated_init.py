"""makemore part 2's MLP (raw tensors, SGD by hand) initialises W1 with plain randn: most tanh units sit on their flat ends; part 3 scales it by the tanh gain over sqrt(fan_in)."""
SOURCE = "https://github.com/karpathy/nn-zero-to-hero/blob/master/lectures/makemore/makemore_part3_bn.ipynb"
CAUSE = "init-too-large"
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

block_size = 3


def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + '.':
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


random.seed(42)
random.shuffle(words)
n1 = int(0.8 * len(words))
n2 = int(0.9 * len(words))
Xtr, Ytr = build_dataset(words[:n1])
Xdev, Ydev = build_dataset(words[n1:n2])
Xte, Yte = build_dataset(words[n2:])

g = torch.Generator().manual_seed(2147483647)
C = torch.randn((27, 10), generator=g)
W1 = torch.randn((30, 200), generator=g)
b1 = torch.randn(200, generator=g)
W2 = torch.randn((200, 27), generator=g)
b2 = torch.randn(27, generator=g)
parameters = [C, W1, b1, W2, b2]
for p in parameters:
    p.requires_grad = True

lossi = []
stepi = []
for i in range(200000):
    # minibatch construct
    ix = torch.randint(0, Xtr.shape[0], (32,))
    # forward pass
    emb = C[Xtr[ix]]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Ytr[ix])
    # backward pass
    for p in parameters:
        p.grad = None
    loss.backward()
    # update
    lr = 0.1 if i < 100000 else 0.01
    for p in parameters:
        p.data += -lr * p.grad
    stepi.append(i)
    lossi.append(loss.log10().item())
'''
FIX = '''
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

block_size = 3


def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + '.':
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


random.seed(42)
random.shuffle(words)
n1 = int(0.8 * len(words))
n2 = int(0.9 * len(words))
Xtr, Ytr = build_dataset(words[:n1])
Xdev, Ydev = build_dataset(words[n1:n2])
Xte, Yte = build_dataset(words[n2:])

g = torch.Generator().manual_seed(2147483647)
C = torch.randn((27, 10), generator=g)
W1 = torch.randn((30, 200), generator=g) * (5 / 3) / 30 ** 0.5
b1 = torch.randn(200, generator=g)
W2 = torch.randn((200, 27), generator=g)
b2 = torch.randn(27, generator=g)
parameters = [C, W1, b1, W2, b2]
for p in parameters:
    p.requires_grad = True

lossi = []
stepi = []
for i in range(200000):
    # minibatch construct
    ix = torch.randint(0, Xtr.shape[0], (32,))
    # forward pass
    emb = C[Xtr[ix]]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Ytr[ix])
    # backward pass
    for p in parameters:
        p.grad = None
    loss.backward()
    # update
    lr = 0.1 if i < 100000 else 0.01
    for p in parameters:
        p.data += -lr * p.grad
    stepi.append(i)
    lossi.append(loss.log10().item())
'''
FIX_LINES = [46]
STEPS = 10
HELD = "F.cross_entropy(torch.tanh(C[Xdev].view(-1, 30) @ W1 + b1) @ W2 + b2, Ydev).item()"
