"""The zoo: small training cells, correct ones that must come out clean and broken ones.

Every broken cell is a correct cell with ONE mistake, made with `mutate()` so that the difference is
visible at a glance: a rule that fires on both is seen at once. Cells read three names from the
namespace, SEED, H (hidden width) and BATCH, so each runs in several variants (`VARIANTS`) and no
rule can be fitted to one model. Code above a `# --- cell ---` line is setup, run in the namespace
before the check (pre-training). The line a fix belongs on is given by its text, or marked in the
cell with a trailing `# <fix>` comment (`line=FIX`).

To add a cell, add it to `CORRECT` (name -> source) or `BROKEN` (name -> `Broken`); the tests
(tests/test_zoo.py), the consistency and golden tests and the gallery notebook all read these.
"""

from __future__ import annotations

from dataclasses import dataclass

VARIANTS = [{"SEED": 0, "H": 32, "BATCH": 64}, {"SEED": 1, "H": 48, "BATCH": 40}]
SETUP = "# --- cell ---\n"  # what comes before it runs before the check
FIX = "# <fix>"  # the fix belongs on the first line marked so
ANY = "<any line>"  # the diagnosis's line is not checked


def mutate(source: str, old: str, new: str) -> str:
    """`source` with its one occurrence of `old` replaced by `new` (the one mistake)."""
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def split(source: str) -> tuple[str, str]:
    """(setup, cell) of a zoo source."""
    setup, _, cell = source.rpartition(SETUP)
    return setup, cell


def line_of(source: str, snippet: str) -> int:
    """1-based line, in the checked cell, of the first line containing `snippet`."""
    return next(i for i, text in enumerate(split(source)[1].splitlines(), 1) if snippet in text)


@dataclass(frozen=True)
class Broken:
    """A broken cell and what its diagnosis must say."""

    source: str
    code: str
    severity: str
    line: str | None  # text on the line the fix belongs to, FIX, ANY, or None: no line
    layers: tuple[str, ...] = ()  # exactly the layers the diagnosis names, () = not checked
    layers_include: tuple[str, ...] = ()  # layers it must name among others
    raises: str | None = None  # the exception type the cell raises, if any
    steps: int = 10
    also: tuple[str, ...] = ()  # other codes it may also produce (a second symptom)


# -- correct loops of the wiring rules -----------------------------------------------------------

DATA = """torch.manual_seed(SEED)
X = torch.randn(256, 8)
Y = X[:, :1] * 2 - X[:, 1:2] + 0.1 * torch.randn(256, 1)
"""

CLASSIC = DATA + """model = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(100):
    for i in range(0, 256, 32):
        x, y = X[i:i + 32], Y[i:i + 32]
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
"""

NET = DATA + """class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, H)
        self.fc2 = nn.Linear(H, H)
        self.fc3 = nn.Linear(H, 1)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.relu(self.fc2(h))
        return self.fc3(h)

model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(100):
    for i in range(0, 256, 32):
        x, y = X[i:i + 32], Y[i:i + 32]
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
"""

CLASSES = """torch.manual_seed(SEED)
X = torch.randn(512, 10)
labels = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, H), nn.BatchNorm1d(H), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(H, 3))
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(100):
    for i in range(0, 512, 64):
        x, y = X[i:i + 64], labels[i:i + 64]
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
"""

RNN = """torch.manual_seed(SEED)
series = torch.sin(torch.linspace(0, 60, 2001)).unsqueeze(-1)
rnn = nn.GRU(1, H, batch_first=True)
head = nn.Linear(H, 1)
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-2)
h = torch.zeros(1, 1, H)
for t in range(0, 2000, 20):
    x = series[t:t + 20].unsqueeze(0)
    target = series[t + 1:t + 21].unsqueeze(0)
    h = h.detach()
    out, h = rnn(x, h)
    loss = F.mse_loss(head(out), target)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

FULL_BATCH = """torch.manual_seed(SEED)
X = torch.randn(512, 10)
labels = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
while True:
    opt.zero_grad()
    loss = criterion(model(X), labels)
    loss.backward()
    opt.step()
"""

SHUFFLED = DATA + """model = nn.Sequential(nn.Linear(8, H), nn.Tanh(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
while True:
    idx = torch.randperm(256)
    x, y = X[idx], Y[idx]
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

UNUSED_HEAD = DATA + """class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, H), nn.ReLU())
        self.head_a = nn.Linear(H, 1)
        self.head_b = nn.Linear(H, 5)  # for another task, not trained here

    def forward(self, x, task="a"):
        h = self.body(x)
        return self.head_a(h) if task == "a" else self.head_b(h)

model = TwoHeads()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(100):
    for i in range(0, 256, 32):
        opt.zero_grad()
        loss = F.mse_loss(model(X[i:i + 32]), Y[i:i + 32])
        loss.backward()
        opt.step()
"""

FUNCTIONAL = DATA + """w = torch.zeros(8, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([w, b], lr=0.1)
while True:
    opt.zero_grad()
    loss = ((X @ w + b - Y) ** 2).mean()
    loss.backward()
    opt.step()
"""

AMP = CLASSIC.replace("""        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
""", """        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.mse_loss(model(x).float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
""").replace("for epoch", "scaler = torch.amp.GradScaler(\"cpu\")\nfor epoch")

WIRING_CORRECT: dict[str, str] = {
    "classic": CLASSIC,
    "zero_grad_after_step": mutate(CLASSIC, """        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
""", """        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
"""),
    "zero_grad_keep_tensors": mutate(CLASSIC, "opt.zero_grad()", "opt.zero_grad(set_to_none=False)"),
    "model_zero_grad": mutate(CLASSIC, "opt.zero_grad()", "model.zero_grad()"),
    "grad_accumulation": mutate(CLASSIC, """        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
""", """        loss = F.mse_loss(model(x), y) / 4  # 4 micro-batches per step
        loss.backward()
        if i // 32 % 4 == 3:
            opt.step()
            opt.zero_grad()
"""),
    "lbfgs_closure": DATA + """model = nn.Sequential(nn.Linear(8, H), nn.Tanh(), nn.Linear(H, 1))
opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
def closure():
    opt.zero_grad()
    loss = F.mse_loss(model(X), Y)
    loss.backward()
    return loss
for it in range(100):
    opt.step(closure)
""",
    "warmup_from_zero": mutate(NET, "for epoch in range(100):", """\
warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / 500))
for epoch in range(100):""").replace("        opt.step()\n", "        opt.step()\n        warmup.step()\n"),
    "frozen_backbone": DATA + """\
backbone = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU())
head = nn.Linear(H, 1)
backbone.requires_grad_(False)
opt = torch.optim.Adam(head.parameters(), lr=1e-2)
for epoch in range(100):
    for i in range(0, 256, 32):
        opt.zero_grad()
        loss = F.mse_loss(head(backbone(X[i:i + 32])), Y[i:i + 32])
        loss.backward()
        opt.step()
""",
    "weight_tying": """torch.manual_seed(SEED)
tokens = torch.randint(0, 50, (64, 17))
class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, H)
        self.mix = nn.Linear(H, H)
        self.out = nn.Linear(H, 50, bias=False)
        self.out.weight = self.embed.weight  # tied

    def forward(self, t):
        return self.out(torch.tanh(self.mix(self.embed(t))))

model = TinyLM()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
while True:
    logits = model(tokens[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 50), tokens[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
""",
    "dropout_batchnorm": CLASSES,
    "gan": """torch.manual_seed(SEED)
G = nn.Sequential(nn.Linear(4, H), nn.ReLU(), nn.Linear(H, 2))
D = nn.Sequential(nn.Linear(2, H), nn.LeakyReLU(0.2), nn.Linear(H, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)
while True:
    real = torch.randn(32, 2) * 0.5 + 2
    fake = G(torch.randn(32, 4))
    opt_d.zero_grad()
    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(D(fake), ones)
    g_loss.backward()
    opt_g.step()
""",
    "converged": """torch.manual_seed(SEED)
X = torch.randn(256, 8)
true_w = torch.randn(1, 8)
Y = X @ true_w.T + 0.5
model = nn.Linear(8, 1)
with torch.no_grad():  # already trained: at the minimum up to 1e-6
    model.weight.copy_(true_w + 1e-6 * torch.randn(1, 8))
    model.bias.fill_(0.5)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
while True:
    opt.zero_grad()
    loss = F.mse_loss(model(X), Y)
    loss.backward()
    opt.step()
""",
    "unused_head": UNUSED_HEAD,
    "adamw_clip": mutate(NET, "opt = torch.optim.Adam(model.parameters(), lr=1e-2)",
                         "opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)"
                         ).replace("        loss.backward()\n", "        loss.backward()\n"
                                   "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"),
    "sgd_weight_decay": mutate(CLASSIC, "momentum=0.9)", "momentum=0.9, weight_decay=5e-4)"),
    "amp_grad_scaler": AMP,
    "two_optimizers_one_loss": DATA + """encoder = nn.Sequential(nn.Linear(8, H), nn.ReLU())
decoder = nn.Linear(H, 1)
opt_enc = torch.optim.Adam(encoder.parameters(), lr=1e-2)
opt_dec = torch.optim.SGD(decoder.parameters(), lr=0.05)
while True:
    opt_enc.zero_grad()
    opt_dec.zero_grad()
    loss = F.mse_loss(decoder(encoder(X)), Y)
    loss.backward()
    opt_enc.step()
    opt_dec.step()
""",
    "rnn_truncated_bptt": RNN,
    "full_batch_classifier": FULL_BATCH,
    "full_batch_shuffled": SHUFFLED,
    "validation_each_step": mutate(CLASSIC, "        opt.step()\n", """        opt.step()
        with torch.no_grad():
            val_loss = F.mse_loss(model(X[:64]), Y[:64]).item()
"""),
    "functional_params": FUNCTIONAL,
    "train_step_function": mutate(NET, """for epoch in range(100):
    for i in range(0, 256, 32):
        x, y = X[i:i + 32], Y[i:i + 32]
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
""", """def train_step(x, y):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()

for epoch in range(100):
    for i in range(0, 256, 32):
        train_step(X[i:i + 32], Y[i:i + 32])
"""),
    "frozen_by_no_grad": DATA + """\
backbone = nn.Sequential(nn.Linear(8, H), nn.ReLU())
head = nn.Linear(H, 1)
model = nn.Sequential(backbone, head)
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)  # the frozen backbone's weights just stay put
for epoch in range(100):
    for i in range(0, 256, 32):
        with torch.no_grad():
            features = backbone(X[i:i + 32])
        opt.zero_grad()
        loss = F.mse_loss(head(features), Y[i:i + 32])
        loss.backward()
        opt.step()
""",
    "dataloader_shuffle": DATA + """from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
for epoch in range(100):
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    sched.step()
""",
    # a beginner's loop at the learning rate nbgrad advised for lr=1e-7: the loss on its one batch
    # falls by a few percent in 10 steps, but at every step, so it is slow learning, not "flat"
    "small_lr_steady_fall": """torch.manual_seed(SEED)
x = torch.randn(64, 10)
y = (x[:, :1] - 2 * x[:, 1:2]).tanh()
loss_fn = nn.MSELoss()
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
for epoch in range(100):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
""",
}

# -- correct loops of the forward-pass rules ----------------------------------------------------
REGRESSION = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(),
                      nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.MSELoss()
x = torch.randn(BATCH, 8)
y = x[:, :1] * 2 - x[:, 1:2] + 0.1 * torch.randn(BATCH, 1)
for i in range(1000):
    opt.zero_grad()
    out = model(x)
    loss = criterion(out, y)  # <fix>
    loss.backward()
    opt.step()
"""

CLASSIFIER = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
x = torch.randn(BATCH, 10)
y = x[:, :4].argmax(dim=1)
for i in range(1000):
    opt.zero_grad()
    logits = model(x)
    loss = criterion(logits, y)  # <fix>
    loss.backward()
    opt.step()
    accuracy = (logits.softmax(dim=1).argmax(dim=1) == y).float().mean()
"""

BINARY = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(6, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.BCEWithLogitsLoss()
x = torch.randn(BATCH, 6)
y = (x[:, :1] > 0).float()
for i in range(1000):
    opt.zero_grad()
    out = model(x)
    loss = criterion(out, y)  # <fix>
    loss.backward()
    opt.step()
"""

DEEP_RELU = """
torch.manual_seed(SEED)
act = nn.ReLU
model = nn.Sequential(nn.Linear(16, H), act(), nn.Linear(H, H), act(),
                      nn.Linear(H, H), act(), nn.Linear(H, H), act(),
                      nn.Linear(H, H), act(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x = torch.randn(BATCH, 16)
y = torch.sin(x[:, :1])
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

TANH_NET = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(20, H), nn.Tanh(), nn.Linear(H, H), nn.Tanh(),
                      nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(BATCH, 20)
y = torch.randn(BATCH, 1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

DROPOUT_BN = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(12, H), nn.BatchNorm1d(H), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(H, 3))
model.train()  # <fix>
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(BATCH, 12)
y = x[:, :3].argmax(dim=1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""

CNN_BN = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
images = torch.rand(32, 3, 8, 8)
labels = torch.randint(0, 5, (32,))
batch_size = 32
for i in range(1000):
    for k in range(0, 32, batch_size):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(images[k:k + batch_size]), labels[k:k + batch_size])
        loss.backward()
        opt.step()
"""

PIXELS = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(64, H), nn.ReLU(), nn.Linear(H, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
images = torch.randint(0, 256, (BATCH, 64)).float()
labels = torch.randint(0, 10, (BATCH,))
x = images / 255.0
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)  # <fix>
    loss.backward()
    opt.step()
"""

PRICES = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(5, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(BATCH, 5)
price = 3000 + 800 * x[:, :1] + 50 * torch.randn(BATCH, 1)
y = (price - price.mean()) / price.std()
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)  # <fix>
    loss.backward()
    opt.step()
"""

COUNTS = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(4, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(BATCH, 4)
counts = torch.poisson(torch.exp(x[:, :1]))
y = torch.log1p(counts)  # <fix>
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

RESIDUAL = """
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.bn = nn.BatchNorm1d(width)
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc(torch.relu(self.bn(x)))  # <fix>

torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(16, H), *[Block(H) for _ in range(40)],
                      nn.BatchNorm1d(H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(BATCH, 16)
y = torch.randn(BATCH, 1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

# -- more correct loops, for silence only -------------------------------------------------
SIGMOID_SHALLOW = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(4, H), nn.Sigmoid(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.randn(BATCH, 4)
y = (x[:, :1] * x[:, 1:2] > 0).float()
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    opt.step()
"""

SIGMOID_OUTPUT_BCE = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(4, H), nn.ReLU(), nn.Linear(H, 1), nn.Sigmoid())
opt = torch.optim.Adam(model.parameters(), lr=0.05)
x = torch.randn(BATCH, 4)
y = (x[:, :1] > 0).float()
for i in range(300):  # pre-train until the outputs are confident (near 0 or 1)
    opt.zero_grad(); nn.functional.binary_cross_entropy(model(x), y).backward(); opt.step()
# --- cell ---
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.binary_cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""

CONVERGED_LBFGS = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(3, H), nn.Tanh(), nn.Linear(H, 1))
x = torch.randn(BATCH, 3)
y = torch.tanh(x @ torch.tensor([[0.5], [-1.0], [0.25]]))
opt = torch.optim.LBFGS(model.parameters(), max_iter=100, tolerance_change=0, tolerance_grad=0)
def closure():
    opt.zero_grad(); l = nn.functional.mse_loss(model(x), y); l.backward(); return l
opt.step(closure)
# --- cell ---
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

SOME_INACTIVE = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, 1))
with torch.no_grad():
    model[0].bias[: H // 5] -= 8.0  # a fifth of the units start off: legitimately inactive
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(BATCH, 8)
y = x.sum(dim=1, keepdim=True)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

GAN_TANH = """
torch.manual_seed(SEED)
G = nn.Sequential(nn.Linear(2, H), nn.Tanh(), nn.Linear(H, 2))
D = nn.Sequential(nn.Linear(2, H), nn.LeakyReLU(0.2), nn.Linear(H, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()
for i in range(1000):
    real = torch.randn(BATCH, 2) + 3; z = torch.randn(BATCH, 2)
    opt_d.zero_grad()
    d_loss = bce(D(real), torch.ones(BATCH, 1)) + bce(D(G(z).detach()), torch.zeros(BATCH, 1))
    d_loss.backward(); opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(D(G(z)), torch.ones(BATCH, 1))
    g_loss.backward(); opt_g.step()
"""

TRANSFORMER = """
torch.manual_seed(SEED)
layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=H, batch_first=True)
model = nn.Sequential(nn.TransformerEncoder(layer, num_layers=2), nn.Linear(16, 1))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randn(8, 12, 16)
y = x.mean(dim=2, keepdim=True)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

TEACHER = """
torch.manual_seed(SEED)
teacher = nn.Sequential(nn.Linear(6, H), nn.Dropout(0.5), nn.ReLU(), nn.Linear(H, 3))
teacher.eval()
student = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam(student.parameters(), lr=1e-2)
x = torch.randn(BATCH, 6)
for i in range(1000):
    with torch.no_grad():
        soft = teacher(x).softmax(dim=1)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(student(x), soft)
    loss.backward()
    opt.step()
"""

PIXELS_BATCHNORM_FIRST = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
images = torch.randint(0, 256, (16, 3, 8, 8)).float()  # raw pixels: the BatchNorm rescales them
labels = torch.randint(0, 10, (16,))
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    opt.step()
"""

SEGMENTATION_IGNORE = """
torch.manual_seed(SEED)
model = nn.Conv2d(3, 4, 3, padding=1)
criterion = nn.CrossEntropyLoss(ignore_index=255)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
images = torch.randn(4, 3, 8, 8)
masks = torch.randint(0, 4, (4, 8, 8))
masks[:, 0, :] = 255  # unlabelled border pixels
for i in range(1000):
    opt.zero_grad()
    loss = criterion(model(images), masks)
    loss.backward()
    opt.step()
"""

VALIDATION_FIRST = """
torch.manual_seed(SEED)
model = nn.Sequential(nn.Linear(12, H), nn.BatchNorm1d(H), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(H, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, xv = torch.randn(BATCH, 12), torch.randn(16, 12)
y, yv = x[:, :3].argmax(dim=1), xv[:, :3].argmax(dim=1)
for i in range(1000):
    model.eval()
    val_loss = nn.functional.cross_entropy(model(xv), yv)  # no torch.no_grad(): wasteful, not wrong
    model.train()
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""

FORWARD_CORRECT: dict[str, str] = {
    "regression": REGRESSION, "classifier": CLASSIFIER, "binary": BINARY, "deep_relu": DEEP_RELU,
    "tanh_net": TANH_NET, "dropout_bn": DROPOUT_BN, "cnn_bn": CNN_BN,
    "pixels_scaled": PIXELS, "prices_scaled": PRICES, "counts": COUNTS, "residual": RESIDUAL,
    "sigmoid_shallow": SIGMOID_SHALLOW,
    "sigmoid_output_bce": SIGMOID_OUTPUT_BCE, "converged_lbfgs": CONVERGED_LBFGS,
    "some_inactive": SOME_INACTIVE,
    "gan_tanh_generator": GAN_TANH, "transformer": TRANSFORMER, "frozen_teacher_in_eval": TEACHER,
    "validation_first": VALIDATION_FIRST, "pixels_batchnorm_first": PIXELS_BATCHNORM_FIRST,
    "segmentation_ignore": SEGMENTATION_IGNORE,
    "classifier_nll": CLASSIFIER.replace("nn.CrossEntropyLoss()", "nn.NLLLoss()").replace(
        "logits = model(x)", "logits = model(x).log_softmax(dim=1)"),
}


FORWARD_BROKEN: dict[str, Broken] = {
    "sigmoid_deep": Broken(
        mutate(FORWARD_CORRECT["deep_relu"], "act = nn.ReLU", "act = nn.Sigmoid  # <fix>"),
        "NBG501", "warning", line=FIX, layers_include=("0", "10")),
    "no_residual": Broken(
        mutate(FORWARD_CORRECT["residual"], "return x + self.fc(", "return self.fc("),
        "NBG502", "warning", line=ANY, layers_include=("0", "43")),
    "nan_in_data": Broken(
        mutate(FORWARD_CORRECT["regression"], "x = torch.randn(BATCH, 8)\n",
               "x = torch.randn(BATCH, 8)\nx[3, 1] = float('nan')\n"),
        "NBG503", "error", line=ANY, layers_include=("model",)),
    "log_of_zero": Broken(
        mutate(FORWARD_CORRECT["counts"], "torch.log1p(counts)", "torch.log(counts)"),
        "NBG503", "error", line=FIX),
    # steps that overshoot until the gradients overflow: one diagnosis, the lr, with the NaN in it
    # (the first step moves the weights by far more than their size, and the loss jumps)
    "lr_diverges": Broken(
        mutate(FORWARD_CORRECT["regression"], "lr=1e-2", "lr=1e3"),
        "NBG403", "error", line="opt = torch.optim.Adam"),
    "tanh_large_init": Broken(
        mutate(FORWARD_CORRECT["tanh_net"], "opt = torch.optim.SGD",
               "for m in model[::2]: nn.init.normal_(m.weight, std=1.0)  # <fix>\nopt = torch.optim.SGD"),
        "NBG601", "warning", line=FIX, layers_include=("0", "2")),
    "relu_dead_bias": Broken(
        mutate(FORWARD_CORRECT["regression"], "opt = torch.optim.Adam",
               "nn.init.constant_(model[2].bias, -20.0)  # <fix>\nopt = torch.optim.Adam"),
        "NBG602", "error", line=FIX, layers_include=("2",)),
    "reciprocal_mse": Broken(
        mutate(FORWARD_CORRECT["regression"], "    loss = criterion(out, y)  # <fix>",
               "    loss = 1 / criterion(out, y)  # <fix>"),
        "NBG711", "error", line=FIX),
    "negated_cross_entropy": Broken(
        mutate(FORWARD_CORRECT["classifier"], "    loss = criterion(logits, y)  # <fix>",
               "    loss = -criterion(logits, y)  # <fix>"),
        "NBG711", "error", line=FIX),
    "softmax_into_ce": Broken(
        mutate(FORWARD_CORRECT["classifier"], "    logits = model(x)",
               "    logits = model(x).softmax(dim=1)"),
        "NBG801", "error", line="logits = model(x).softmax(dim=1)", layers_include=("criterion",)),
    "softmax_module_into_ce": Broken(
        mutate(FORWARD_CORRECT["classifier"], "nn.Linear(H, 4))", "nn.Linear(H, 4), nn.Softmax(dim=1))"),
        "NBG801", "error", line="nn.Softmax(dim=1)", layers_include=("criterion",)),
    "sigmoid_into_bce_logits": Broken(
        mutate(FORWARD_CORRECT["binary"], "    out = model(x)", "    out = torch.sigmoid(model(x))"),
        "NBG801", "error", line="out = torch.sigmoid(model(x))", layers_include=("criterion",)),
    "log_softmax_into_ce": Broken(
        mutate(FORWARD_CORRECT["classifier"], "    logits = model(x)",
               "    logits = model(x).log_softmax(dim=1)"),
        "NBG802", "info", line="logits = model(x).log_softmax(dim=1)", layers_include=("criterion",)),
    "nll_on_raw_scores": Broken(
        mutate(FORWARD_CORRECT["classifier"], "criterion = nn.CrossEntropyLoss()",
               "criterion = nn.NLLLoss()"),
        "NBG803", "error", line="criterion = nn.NLLLoss()", layers_include=("criterion",)),
    "nll_on_probabilities": Broken(
        mutate(FORWARD_CORRECT["classifier_nll"], "model(x).log_softmax(dim=1)", "model(x).softmax(dim=1)"),
        "NBG803", "error", line="logits = model(x).softmax(dim=1)", layers_include=("criterion",)),
    "broadcast_mse": Broken(
        mutate(FORWARD_CORRECT["regression"], "y = x[:, :1] * 2 - x[:, 1:2] + 0.1 * torch.randn(BATCH, 1)",
               "y = x[:, 0] * 2 - x[:, 1] + 0.1 * torch.randn(BATCH)"),
        "NBG804", "error", line=FIX, layers_include=("criterion",)),
    "broadcast_handwritten": Broken(
        mutate(FORWARD_CORRECT["regression"], "    loss = criterion(out, y)  # <fix>",
               "    loss = ((out - y.squeeze(1)) ** 2).mean()  # <fix>"),
        "NBG804", "error", line=FIX),
    "labels_one_based": Broken(
        mutate(FORWARD_CORRECT["classifier"], "y = x[:, :4].argmax(dim=1)", "y = x[:, :4].argmax(dim=1) + 1"),
        "NBG805", "error", line=FIX, layers_include=("criterion",), raises="IndexError"),
    "bce_targets_not_binary": Broken(
        mutate(FORWARD_CORRECT["binary"], "y = (x[:, :1] > 0).float()", "y = (x[:, :1] > 0).float() * 3"),
        "NBG806", "error", line=FIX, layers_include=("criterion",)),
    "eval_mode": Broken(
        mutate(FORWARD_CORRECT["dropout_bn"], "model.train()  # <fix>", "model.eval()  # <fix>"),
        "NBG651", "warning", line=FIX, layers_include=("1", "3")),
    "batchnorm_batch_one": Broken(
        mutate(FORWARD_CORRECT["cnn_bn"], "batch_size = 32", "batch_size = 1"),
        "NBG652", "warning", line=ANY, layers_include=("1",)),
    "batchnorm1d_batch_one": Broken(
        mutate(FORWARD_CORRECT["dropout_bn"], "x = torch.randn(BATCH, 12)", "x = torch.randn(1, 12)"),
        "NBG652", "error", line=ANY, raises="ValueError"),
    "constant_init": Broken(
        mutate(FORWARD_CORRECT["regression"], "opt = torch.optim.Adam",
               "for p in model.parameters(): nn.init.constant_(p, 0.1)  # <fix>\nopt = torch.optim.Adam"),
        "NBG551", "error", line=FIX, layers_include=("0", "2")),
    "zero_init": Broken(
        mutate(FORWARD_CORRECT["classifier"], "opt = torch.optim.SGD",
               "for p in model.parameters(): p.data.zero_()  # <fix>\nopt = torch.optim.SGD"),
        "NBG551", "error", line=FIX, layers_include=("0",)),
    "raw_pixels": Broken(
        mutate(FORWARD_CORRECT["pixels_scaled"], "x = images / 255.0", "x = images"),
        "NBG851", "error", line="x = images", layers_include=("model",)),  # the raw pixels kill the ReLUs
    "prices_unscaled": Broken(
        mutate(FORWARD_CORRECT["prices_scaled"], "y = (price - price.mean()) / price.std()", "y = price"),
        "NBG852", "warning", line="y = price"),
    "first_loss_far_above_chance": Broken(  # the output layer alone starts far too large
        mutate(FORWARD_CORRECT["classifier"], "opt = torch.optim.SGD",
               "nn.init.normal_(model[2].weight, std=2.0)  # <fix>\nopt = torch.optim.SGD"),
        "NBG704", "warning", line=FIX, layers=("2",)),
    "init_std_one_everywhere": Broken(
        mutate(FORWARD_CORRECT["classifier"], "opt = torch.optim.SGD",
               "for m in model[::2]: nn.init.normal_(m.weight, std=3.0)  # <fix>\nopt = torch.optim.SGD"),
        "NBG552", "warning", line=FIX, layers_include=("0", "2")),
    "no_activation_between_layers": Broken(
        mutate(FORWARD_CORRECT["classifier"], "nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 4)",
               "nn.Linear(10, H), nn.Linear(H, 4)"),
        "NBG603", "warning", line="model = nn.Sequential", layers_include=("0", "1")),
    "l2_penalty_dominates": Broken(
        mutate(FORWARD_CORRECT["regression"], "    loss = criterion(out, y)  # <fix>",
               "    loss = criterion(out, y) + l2 * sum((p ** 2).sum() for p in model.parameters())")
        .replace("criterion = nn.MSELoss()", "criterion = nn.MSELoss()\nl2 = 10.0  # <fix>"),
        "NBG409", "warning", line=FIX),
}


# -- broken loops of the wiring rules: each a correct loop with one mistake ----------------------

NET_LOOP_OPT = "opt = torch.optim.Adam(model.parameters(), lr=1e-2)"

WIRING_BROKEN: dict[str, Broken] = {
    # 1. the loss does not reach the parameters
    "loss_rewrapped": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)",
               "loss = torch.tensor(F.mse_loss(model(x), y).item(), requires_grad=True)"),
        "NBG101", "error", line="loss = torch.tensor("),
    "loss_numpy_roundtrip": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)",
               "loss = torch.from_numpy(F.mse_loss(model(x), y).detach().numpy()).requires_grad_()"),
        "NBG101", "error", line="loss = torch.from_numpy("),
    "detach_inside_forward": Broken(
        mutate(NET, "h = torch.relu(self.fc2(h))", "h = torch.relu(self.fc2(h)).detach()"),
        "NBG102", "error", line=".detach()", layers=("fc1", "fc2")),
    "data_inside_forward": Broken(
        mutate(NET, "h = torch.relu(self.fc1(x))", "h = torch.relu(self.fc1(x)).data"),
        "NBG102", "error", line=".data", layers=("fc1",)),
    "layer_made_in_forward": Broken(
        mutate(NET, "return self.fc3(h)", "return nn.Linear(H, 1)(h)"),
        "NBG103", "error", line="return nn.Linear(H, 1)(h)", also=("NBG104",)),
    "layer_forgotten_in_forward": Broken(
        mutate(NET, "        h = torch.relu(self.fc2(h))\n", ""),
        "NBG104", "info", line=None, layers=("fc2",)),
    # 2. parameters that get gradients but belong to no optimizer
    "optimizer_on_other_instance": Broken(
        mutate(NET, NET_LOOP_OPT, "opt = torch.optim.Adam(Net().parameters(), lr=1e-2)"),
        "NBG201", "error", line="opt = torch.optim.Adam(Net()", layers=("fc1", "fc2", "fc3")),
    "model_rebuilt_after_optimizer": Broken(
        mutate(CLASSIC, "for epoch in range(100):",
               "model = nn.Sequential(nn.Linear(8, H), nn.Tanh(), nn.Linear(H, 1))\n"
               "for epoch in range(100):"),
        "NBG201", "error", line="nn.Tanh()", layers=("0", "2")),
    "layers_in_plain_list": Broken(
        mutate(NET, "self.fc2 = nn.Linear(H, H)", "self.hidden = [nn.Linear(H, H), nn.Linear(H, H)]")
        .replace("h = torch.relu(self.fc2(h))",
                 "for layer in self.hidden:\n            h = torch.relu(layer(h))"),
        "NBG201", "error", line="self.hidden = [", layers=("model.hidden[0]", "model.hidden[1]")),
    "layer_added_after_optimizer": Broken(
        mutate(NET, "for epoch in range(100):",
               "model.fc3 = nn.Linear(H, 1)  # a fresh head\nfor epoch in range(100):"),
        "NBG201", "error", line="model.fc3 = nn.Linear(H, 1)", layers=("fc3",)),
    "backbone_not_frozen": Broken(
        mutate(WIRING_CORRECT["frozen_backbone"], "backbone.requires_grad_(False)\n", ""),
        "NBG201", "warning", line=None, layers=("backbone.0", "backbone.2")),
    "generator_loss_detached": Broken(
        mutate(WIRING_CORRECT["gan"], "g_loss = bce(D(fake), ones)", "g_loss = bce(D(fake.detach()), ones)"),
        "NBG202", "warning", line="g_loss = bce(D(fake.detach()), ones)", layers=("G.0", "G.2")),
    "everything_frozen": Broken(
        mutate(CLASSIC, "opt = torch.optim", "model.requires_grad_(False)\nopt = torch.optim"),
        "NBG203", "error", line="model.requires_grad_(False)", raises="RuntimeError"),
    "only_norm_layers_train": Broken(
        mutate(CLASSES, "opt = torch.optim",
               "for m in model.modules():\n"
               "    if isinstance(m, nn.Linear): m.requires_grad_(False)\n"
               "opt = torch.optim"),
        "NBG203", "warning", line="m.requires_grad_(False)", layers=("0", "4")),
    "layers_only_in_plain_list": Broken(
        mutate(NET, """        self.fc1 = nn.Linear(8, H)
        self.fc2 = nn.Linear(H, H)
        self.fc3 = nn.Linear(H, 1)
""", """        self.layers = [nn.Linear(8, H), nn.Linear(H, H), nn.Linear(H, 1)]
""").replace("""        h = torch.relu(self.fc1(x))
        h = torch.relu(self.fc2(h))
        return self.fc3(h)""", """        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)"""),
        "NBG201", "error", line="self.layers = [", raises="ValueError"),
    # 3. gradient clearing
    "no_zero_grad": Broken(
        mutate(CLASSIC, "        opt.zero_grad()\n", ""),
        "NBG301", "error", line="loss.backward()"),
    "manual_update_never_cleared": Broken(
        mutate(FUNCTIONAL, """opt = torch.optim.SGD([w, b], lr=0.1)
while True:
    opt.zero_grad()
    loss = ((X @ w + b - Y) ** 2).mean()
    loss.backward()
    opt.step()
""", """while True:
    loss = ((X @ w + b - Y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
"""),
        "NBG301", "error", line="b -= 0.1 * b.grad"),
    "zero_grad_between_backward_and_step": Broken(
        mutate(CLASSIC, """        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
""", """        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.zero_grad()
"""),
        "NBG302", "error", line="opt.zero_grad()"),
    "step_before_backward": Broken(
        mutate(CLASSIC, """        loss.backward()
        opt.step()
""", """        opt.step()
        loss.backward()
"""),
        "NBG303", "error", line="opt.step()"),
    "step_never_called": Broken(
        mutate(CLASSIC, "        opt.step()\n", ""), "NBG305", "error", line="loss.backward()"),
    # 4. learning rate
    "lr_zero": Broken(mutate(CLASSIC, "lr=0.05", "lr=0"), "NBG401", "error", line="opt = "),
    "lr_tiny": Broken(mutate(CLASSIC, "lr=0.05", "lr=1e-9"), "NBG402", "warning", line="opt = ",
                      layers=("0", "2")),
    "lr_huge": Broken(mutate(CLASSIC, "lr=0.05", "lr=3.0"), "NBG403", "error", line="opt = "),
    "scheduler_stepped_per_batch": Broken(
        mutate(CLASSIC, "        opt.step()\n", "        opt.step()\n        sched.step()\n")
        .replace("for epoch in range(100):",
                 "sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)\n"
                 "for epoch in range(100):"),
        "NBG408", "warning", line="sched.step()", layers=("0", "2")),
    # 7. loss over the steps
    "targets_shuffled_apart": Broken(  # flatness is judged over more steps, as its note advises
        mutate(SHUFFLED, "x, y = X[idx], Y[idx]", "x, y = X, Y[idx]"), "NBG701", "info", line=None,
        steps=20),
    "lr_overshoots": Broken(mutate(FULL_BATCH, "lr=0.1", "lr=5.0"), "NBG703", "warning",
                            line="opt = "),
    # 11. clipping, weight decay, GradScaler
    "clip_too_tight": Broken(
        mutate(CLASSIC, "        loss.backward()\n",
               "        loss.backward()\n"
               "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e-5)\n"),
        "NBG404", "warning", line="clip_grad_norm_"),
    "clip_after_step": Broken(
        mutate(CLASSIC, "        opt.step()\n",
               "        opt.step()\n"
               "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)\n"),
        "NBG407", "warning", line="clip_grad_norm_"),
    "weight_decay_dominates": Broken(
        mutate(CLASSIC, "momentum=0.9)", "momentum=0.9, weight_decay=5)"),
        "NBG405", "warning", line="opt = ", layers=("0", "2")),
    "adamw_decay_dominates": Broken(
        mutate(NET, NET_LOOP_OPT, "opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1.0)"),
        "NBG405", "warning", line="opt = ", layers_include=("fc1",)),
    "grad_scaler_nan_data": Broken(
        mutate(AMP, "model = nn.Sequential", 'X[::10, 0] = float("nan")  # missing values\n'
               "model = nn.Sequential"),
        # the scaler's skipping (NBG406) is folded into its cause: NaN in the model's input
        "NBG503", "error", line="loss = F.mse_loss(model(x)", layers=("model",), steps=5),
    # 13. exceptions
    "loss_of_detached_output": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)", "loss = F.mse_loss(model(x).detach(), y)"),
        "NBG901", "error", line="loss = F.mse_loss(model(x).detach(), y)", raises="RuntimeError"),
    "hidden_state_not_detached": Broken(
        mutate(RNN, "    h = h.detach()\n", ""), "NBG902", "error", line="out, h = rnn(x, h)",
        raises="RuntimeError"),
    "inplace_on_saved_tensor": Broken(
        mutate(NET, "h = torch.relu(self.fc1(x))", "h = torch.sigmoid(self.fc1(x))\n        h *= 2"),
        "NBG903", "error", line="h *= 2", raises="RuntimeError"),
    "float64_inputs": Broken(
        mutate(CLASSIC, "X = torch.randn(256, 8)", "X = torch.randn(256, 8, dtype=torch.float64)"),
        "NBG904", "error", line="X = torch.randn(256, 8, dtype=torch.float64)", raises="RuntimeError"),
    "linear_in_features_wrong": Broken(
        mutate(CLASSIC, "nn.Linear(8, H)", "nn.Linear(10, H)"), "NBG906", "error",
        line="model = nn.Sequential(nn.Linear(10, H)", raises="RuntimeError"),
    "input_not_flattened": Broken(
        mutate(CLASSIC, "x, y = X[i:i + 32], Y[i:i + 32]", "x, y = X[i:i + 32].view(32, 2, 4), Y[i:i + 32]"),
        "NBG906", "error", line="loss = F.mse_loss(model(x), y)", raises="RuntimeError"),
    "optimizer_on_non_leaf": Broken(
        mutate(FUNCTIONAL, "w = torch.zeros(8, 1, requires_grad=True)",
               "w = torch.randn(8, 1, requires_grad=True) * 0.01"),
        "NBG907", "error", line="w = torch.randn(8, 1, requires_grad=True) * 0.01", raises="ValueError"),
    "manual_update_on_non_leaf": Broken(
        mutate(FUNCTIONAL, """w = torch.zeros(8, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([w, b], lr=0.1)
while True:
    opt.zero_grad()
    loss = ((X @ w + b - Y) ** 2).mean()
    loss.backward()
    opt.step()
""", """w = torch.randn(8, 1, requires_grad=True) * 0.01
b = torch.zeros(1, requires_grad=True)
while True:
    loss = ((X @ w + b - Y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
"""),
        "NBG907", "error", line="w = torch.randn(8, 1, requires_grad=True) * 0.01", raises="TypeError"),
    "cross_entropy_column_targets": Broken(
        mutate(CLASSES, "x, y = X[i:i + 64], labels[i:i + 64]", "x, y = X[i:i + 64], labels[i:i + 64, None]"),
        "NBG908", "error", line="x, y = X[i:i + 64], labels[i:i + 64, None]", raises="RuntimeError"),
    "backward_on_item": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)", "loss = F.mse_loss(model(x), y).item()"),
        "NBG909", "error", line="loss = F.mse_loss(model(x), y).item()", raises="AttributeError"),
    "loss_not_reduced": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)", 'loss = F.mse_loss(model(x), y, reduction="none")'),
        "NBG910", "error", line='reduction="none"', raises="RuntimeError"),
    "mse_on_class_labels_crash": Broken(
        mutate(CLASSES, "loss = criterion(model(x), y)", "loss = F.mse_loss(model(x), y)"),
        "NBG814", "error", line="loss = F.mse_loss(model(x), y)", raises="RuntimeError"),
    "regression_target_width_crash": Broken(
        mutate(mutate(CLASSIC, "nn.Linear(H, 1))", "nn.Linear(H, 3))"),
               "x, y = X[i:i + 32], Y[i:i + 32]", "x, y = X[i:i + 32], Y[i:i + 32].repeat(1, 2)"),
        "NBG911", "error", line="loss = F.mse_loss(model(x), y)", raises="RuntimeError"),
    "print_after_inner_loop": Broken(
        DATA + """loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16)
model = nn.Sequential(nn.Linear(8, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(3):
    for x, y in loader:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}")
""", "NBG001", "info", line='print(f"epoch {epoch}: loss {loss.item():.3f}")'),
}


# -- correct loops of the data, loss-axis and sequence rules, and each one's mistake -------------

DISTILL = """
torch.manual_seed(SEED)
teacher = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5))
teacher.requires_grad_(False)
student = nn.Sequential(nn.Linear(16, H), nn.ReLU(), nn.Linear(H, 5))
opt = torch.optim.Adam(student.parameters(), lr=1e-2)
kl = nn.KLDivLoss(reduction="batchmean")
for i in range(1000):
    x = torch.randn(BATCH, 16)
    loss = kl(student(x).log_softmax(dim=1), teacher(x).softmax(dim=1))
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

CTC = """
torch.manual_seed(SEED)
T, C, L = 24, 6, 4
emb = torch.randn(C, 8)
rnn = nn.GRU(8, H)
head = nn.Linear(H, C)
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-2)
for i in range(1000):
    labels = torch.randint(1, C, (BATCH, L))
    x = emb[labels.repeat_interleave(T // L, dim=1)].transpose(0, 1) + 0.3 * torch.randn(T, BATCH, 8)
    out, _ = rnn(x)
    scores = head(out).log_softmax(2)
    loss = F.ctc_loss(scores, labels, torch.full((BATCH,), T), torch.full((BATCH,), L))
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

TAGGER = """
torch.manual_seed(SEED)
PAD, V, T = 0, 20, 12
model = nn.Sequential(nn.Embedding(V, H), nn.Linear(H, V))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for i in range(1000):
    tokens = torch.randint(1, V, (BATCH, T))
    lengths = torch.randint(3, T, (BATCH, 1))
    tokens = tokens.masked_fill(torch.arange(T) >= lengths, PAD)
    targets = tokens * 3 % V  # each token's tag; padding stays PAD
    logits = model(tokens)
    loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

NUMPY_SHUFFLED = """import numpy as np
torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
X = rng.standard_normal((600, 10)).astype(np.float32)
y = (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 0.5).astype(np.int64)
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(100):
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    for i in range(0, 600, 50):
        loss = F.cross_entropy(model(torch.from_numpy(X[i:i + 50])), torch.from_numpy(y[i:i + 50]))
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

LOADER_IN_ORDER = """from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(SEED)
X = torch.randn(512, 10)
labels = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
loader = DataLoader(TensorDataset(X, labels), batch_size=32)
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(100):
    for x, y in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
"""

SORTED_SHUFFLED = """from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(SEED)
centres = torch.randn(3, 10) * 2
y_all = torch.arange(3).repeat_interleave(200)  # the file lists the samples class by class
X_all = centres[y_all] + torch.randn(600, 10)
loader = DataLoader(TensorDataset(X_all, y_all), batch_size=50, shuffle=True)
model = nn.Sequential(nn.Linear(10, H), nn.ReLU(), nn.Linear(H, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(100):
    for x, y in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
"""

CHANNELS_LAST = """
torch.manual_seed(SEED)
images = torch.rand(256, 8, 8, 3)  # (N, H, W, C), as image files store them
labels = (images[..., 0].mean((1, 2)) > images[..., 1].mean((1, 2))).long()
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(100):
    for i in range(0, 256, 32):
        x = images[i:i + 32].permute(0, 3, 1, 2)
        loss = F.cross_entropy(model(x), labels[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

GRU_CLASSIFIER = """
torch.manual_seed(SEED)
X = torch.randn(256, 12, 4)  # (batch, time, features)
labels = (X[:, :, 0].sum(1) > 0).long()

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, H, batch_first=True)
        self.head = nn.Linear(H, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])

model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(100):
    for i in range(0, 256, 32):
        loss = F.cross_entropy(model(X[i:i + 32]), labels[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

SENTENCE_TAGGER = """
torch.manual_seed(SEED)
V, TAGS = 30, 5
sentences = [torch.randint(0, V, (int(n),)) for n in torch.randint(4, 15, (200,))]


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, H)
        self.lstm = nn.LSTM(H, H)  # time-major: (words, 1 sentence, features)
        self.tag = nn.Linear(H, TAGS)

    def forward(self, words):
        out, _ = self.lstm(self.embed(words).view(len(words), 1, -1))
        return self.tag(out.view(len(words), -1))

model = Tagger()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(100):
    for words in sentences:  # one sentence at a time, one tag per word
        tags = words % TAGS
        loss = F.cross_entropy(model(words), tags)
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

DATA_CORRECT: dict[str, str] = {
    "distillation": DISTILL, "ctc": CTC, "padded_tagger": TAGGER,
    "numpy_shuffled_together": NUMPY_SHUFFLED, "loader_in_order": LOADER_IN_ORDER,
    "sorted_data_shuffled": SORTED_SHUFFLED, "channels_last_permuted": CHANNELS_LAST,
    "gru_batch_first": GRU_CLASSIFIER, "sentence_tagger_time_major": SENTENCE_TAGGER,
}

DATA_BROKEN: dict[str, Broken] = {
    "round_in_loss": Broken(
        mutate(FORWARD_CORRECT["binary"], "    out = model(x)", "    out = torch.round(model(x))"),
        "NBG105", "error", line=FIX),
    "bce_on_raw_scores": Broken(
        mutate(FORWARD_CORRECT["binary"], "nn.BCEWithLogitsLoss()", "nn.BCELoss()"),
        "NBG807", "error", line="criterion = nn.BCELoss()", raises="RuntimeError"),
    "kldiv_on_probabilities": Broken(
        mutate(DISTILL, "student(x).log_softmax(dim=1)", "student(x).softmax(dim=1)"),
        "NBG808", "error", line="loss = kl(student(x).softmax(dim=1)"),
    "ctc_on_raw_scores": Broken(
        mutate(CTC, "scores = head(out).log_softmax(2)", "scores = head(out)"),
        "NBG809", "error", line="loss = F.ctc_loss("),
    "log_softmax_over_batch": Broken(
        mutate(FORWARD_CORRECT["classifier_nll"], "model(x).log_softmax(dim=1)",
               "model(x).log_softmax(dim=0)"),
        "NBG811", "error", line="log_softmax(dim=0)"),
    "padding_not_ignored": Broken(
        mutate(TAGGER, "targets, ignore_index=PAD)", "targets)"),
        "NBG812", "warning", line="loss = F.cross_entropy("),
    "loss_summed": Broken(
        mutate(CLASSIC, "loss = F.mse_loss(model(x), y)", 'loss = F.mse_loss(model(x), y, reduction="sum")'),
        "NBG813", "error", line='reduction="sum"'),
    "shuffled_separately": Broken(
        mutate(NUMPY_SHUFFLED, "    order = rng.permutation(len(X))\n    X, y = X[order], y[order]\n",
               "    rng.shuffle(X)\n    rng.shuffle(y)\n"),
        "NBG861", "warning", line="rng.shuffle(X)", steps=30),
    "next_iter_every_step": Broken(
        mutate(LOADER_IN_ORDER, "    for x, y in loader:\n",
               "    for _ in range(len(loader)):\n        x, y = next(iter(loader))\n"),
        "NBG862", "warning", line="next(iter(loader))"),
    "sorted_not_shuffled": Broken(
        mutate(SORTED_SHUFFLED, "shuffle=True", "shuffle=False"),
        "NBG863", "warning", line="loader = DataLoader("),
    "reshape_for_permute": Broken(
        mutate(CHANNELS_LAST, ".permute(0, 3, 1, 2)", ".reshape(32, 3, 8, 8)"),
        "NBG864", "warning", line="x = images[i:i + 32].reshape"),
    "gru_not_batch_first": Broken(
        mutate(GRU_CLASSIFIER, "nn.GRU(4, H, batch_first=True)", "nn.GRU(4, H)"),
        "NBG871", "warning", line="self.gru = nn.GRU(4, H)"),
}

# -- a beginner's first classifier, and regressions whose targets happen to be whole numbers ------

FIRST_CLASSIFIER = """
torch.manual_seed(SEED)
X = torch.randn(300, 4)
y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()  # three classes: 0, 1, 2
model = nn.Sequential(nn.Linear(4, H), nn.ReLU(), nn.Linear(H, 3))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(100):
    for i in range(0, 300, 30):
        out = model(X[i:i + 30])
        loss = criterion(out, y[i:i + 30])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""

COUNTS = """
torch.manual_seed(SEED)
X = torch.rand(512, 6)
counts = torch.poisson(3 * X[:, :1] + X[:, 1:2])  # events per interval: whole numbers, as floats
model = nn.Sequential(nn.Linear(6, H), nn.ReLU(), nn.Linear(H, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(100):
    for i in range(0, 512, BATCH):
        loss = F.mse_loss(model(X[i:i + BATCH]), counts[i:i + BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

RATINGS = """
torch.manual_seed(SEED)
users, items = torch.randint(0, 50, (1024,)), torch.randint(0, 40, (1024,))
stars = ((users % 5 + items % 3) % 5 + 1)  # ratings of 1 to 5 stars, stored as integers
U, V = nn.Embedding(50, 8), nn.Embedding(40, 8)
opt = torch.optim.Adam([*U.parameters(), *V.parameters()], lr=1e-2)
for epoch in range(100):
    for i in range(0, 1024, BATCH):
        u, v = users[i:i + BATCH], items[i:i + BATCH]
        predicted = (U(u) * V(v)).sum(1)
        loss = F.mse_loss(predicted, stars[i:i + BATCH].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

SCORE_REGRESSION = """
torch.manual_seed(SEED)
X = torch.randn(300, 4)
y = X[:, 0] + 0.5 * X[:, 1]
model = nn.Sequential(nn.Linear(4, H), nn.ReLU(), nn.Linear(H, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(100):
    for i in range(0, 300, 30):
        out = model(X[i:i + 30]).squeeze(1)
        loss = criterion(out, y[i:i + 30])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""

BEGINNER_CORRECT: dict[str, str] = {
    "first_classifier": FIRST_CLASSIFIER, "score_regression": SCORE_REGRESSION,
    "count_regression": COUNTS, "ratings_regression": RATINGS,
}

BEGINNER_BROKEN: dict[str, Broken] = {
    "mse_on_labels_three_outputs": Broken(
        mutate(FIRST_CLASSIFIER, "nn.CrossEntropyLoss()", "nn.MSELoss()"),
        "NBG814", "error", line="criterion = nn.MSELoss()", raises="RuntimeError"),
    "mse_on_labels_one_output": Broken(
        mutate(SCORE_REGRESSION, "y = X[:, 0] + 0.5 * X[:, 1]",
               "y = ((X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()).float()  # classes 0, 1, 2"),
        "NBG814", "warning", line="criterion = nn.MSELoss()"),
}

CORRECT: dict[str, str] = {**WIRING_CORRECT, **FORWARD_CORRECT, **DATA_CORRECT, **BEGINNER_CORRECT}
BROKEN: dict[str, Broken] = {**WIRING_BROKEN, **FORWARD_BROKEN, **DATA_BROKEN, **BEGINNER_BROKEN}
assert len(CORRECT) == (len(WIRING_CORRECT) + len(FORWARD_CORRECT) + len(DATA_CORRECT)
                        + len(BEGINNER_CORRECT))
assert len(BROKEN) == (len(WIRING_BROKEN) + len(FORWARD_BROKEN) + len(DATA_BROKEN)
                       + len(BEGINNER_BROKEN))
