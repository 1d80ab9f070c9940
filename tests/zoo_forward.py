"""Training cells for the forward-pass rules: correct loops, and each correct loop with ONE mistake.

A broken cell is written as its correct twin plus one edit (`Broken.edit`), so a rule that fires on
both is seen at once. Cells are templates: `{seed}` and `{width}` (and a few others) take each of
`VARIANTS`, so that no rule is fitted to one model. The line where the fix belongs is marked in the
correct cell with a trailing `# <fix>` comment or, when the edit adds it, in the edit itself.
Code above a `# --- cell ---` line is setup, run in the namespace before the check (pre-training).
"""

from __future__ import annotations

from dataclasses import dataclass, field

VARIANTS = [dict(seed=0, width=32, batch=64), dict(seed=3, width=48, batch=40)]
# every code the forward-pass rules can give (the wiring rules use the others)
CODES = frozenset({"NBG501", "NBG502", "NBG503", "NBG551", "NBG601", "NBG602", "NBG651", "NBG652",
                   "NBG711", "NBG801", "NBG802", "NBG803", "NBG804", "NBG805", "NBG806", "NBG851",
                   "NBG852"})

# -- correct loops ------------------------------------------------------------------------------------
REGRESSION = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(8, {width}), nn.ReLU(), nn.Linear({width}, {width}), nn.ReLU(),
                      nn.Linear({width}, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.MSELoss()
x = torch.randn({batch}, 8)
y = x[:, :1] * 2 - x[:, 1:2] + 0.1 * torch.randn({batch}, 1)
for i in range(1000):
    opt.zero_grad()
    out = model(x)
    loss = criterion(out, y)  # <fix>
    loss.backward()
    opt.step()
"""

CLASSIFIER = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(10, {width}), nn.ReLU(), nn.Linear({width}, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
x = torch.randn({batch}, 10)
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
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(6, {width}), nn.ReLU(), nn.Linear({width}, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.BCEWithLogitsLoss()
x = torch.randn({batch}, 6)
y = (x[:, :1] > 0).float()
for i in range(1000):
    opt.zero_grad()
    out = model(x)
    loss = criterion(out, y)  # <fix>
    loss.backward()
    opt.step()
"""

DEEP_RELU = """
torch.manual_seed({seed})
act = nn.ReLU
model = nn.Sequential(nn.Linear(16, {width}), act(), nn.Linear({width}, {width}), act(),
                      nn.Linear({width}, {width}), act(), nn.Linear({width}, {width}), act(),
                      nn.Linear({width}, {width}), act(), nn.Linear({width}, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x = torch.randn({batch}, 16)
y = torch.sin(x[:, :1])
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

TANH_NET = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(20, {width}), nn.Tanh(), nn.Linear({width}, {width}), nn.Tanh(),
                      nn.Linear({width}, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn({batch}, 20)
y = torch.randn({batch}, 1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

DROPOUT_BN = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(12, {width}), nn.BatchNorm1d({width}), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear({width}, 3))
model.train()  # <fix>
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn({batch}, 12)
y = x[:, :3].argmax(dim=1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""

CNN_BN = """
torch.manual_seed({seed})
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
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(64, {width}), nn.ReLU(), nn.Linear({width}, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
images = torch.randint(0, 256, ({batch}, 64)).float()
labels = torch.randint(0, 10, ({batch},))
x = images / 255.0
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)  # <fix>
    loss.backward()
    opt.step()
"""

PRICES = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(5, {width}), nn.ReLU(), nn.Linear({width}, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn({batch}, 5)
price = 3000 + 800 * x[:, :1] + 50 * torch.randn({batch}, 1)
y = (price - price.mean()) / price.std()
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)  # <fix>
    loss.backward()
    opt.step()
"""

COUNTS = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(4, {width}), nn.ReLU(), nn.Linear({width}, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn({batch}, 4)
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

torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(16, {width}), *[Block({width}) for _ in range(40)],
                      nn.BatchNorm1d({width}), nn.ReLU(), nn.Linear({width}, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn({batch}, 16)
y = torch.randn({batch}, 1)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

# -- correct loops of their own, for silence only -------------------------------------------------
SIGMOID_SHALLOW = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(4, {width}), nn.Sigmoid(), nn.Linear({width}, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x = torch.randn({batch}, 4)
y = (x[:, :1] * x[:, 1:2] > 0).float()
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    opt.step()
"""

SIGMOID_OUTPUT_BCE = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(4, {width}), nn.ReLU(), nn.Linear({width}, 1), nn.Sigmoid())
opt = torch.optim.Adam(model.parameters(), lr=0.05)
x = torch.randn({batch}, 4)
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

CONVERGED = """
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(3, {width}), nn.Tanh(), nn.Linear({width}, 1))
x = torch.randn({batch}, 3)
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
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(8, {width}), nn.ReLU(), nn.Linear({width}, 1))
with torch.no_grad():
    model[0].bias[: {width} // 5] -= 8.0  # a fifth of the units start off: legitimately inactive
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn({batch}, 8)
y = x.sum(dim=1, keepdim=True)
for i in range(1000):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
"""

GAN = """
torch.manual_seed({seed})
G = nn.Sequential(nn.Linear(2, {width}), nn.Tanh(), nn.Linear({width}, 2))
D = nn.Sequential(nn.Linear(2, {width}), nn.LeakyReLU(0.2), nn.Linear({width}, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()
for i in range(1000):
    real = torch.randn({batch}, 2) + 3; z = torch.randn({batch}, 2)
    opt_d.zero_grad()
    d_loss = bce(D(real), torch.ones({batch}, 1)) + bce(D(G(z).detach()), torch.zeros({batch}, 1))
    d_loss.backward(); opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(D(G(z)), torch.ones({batch}, 1))
    g_loss.backward(); opt_g.step()
"""

TRANSFORMER = """
torch.manual_seed({seed})
layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward={width}, batch_first=True)
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
torch.manual_seed({seed})
teacher = nn.Sequential(nn.Linear(6, {width}), nn.Dropout(0.5), nn.ReLU(), nn.Linear({width}, 3))
teacher.eval()
student = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam(student.parameters(), lr=1e-2)
x = torch.randn({batch}, 6)
for i in range(1000):
    with torch.no_grad():
        soft = teacher(x).softmax(dim=1)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(student(x), soft)
    loss.backward()
    opt.step()
"""

PIXELS_BATCHNORM_FIRST = """
torch.manual_seed({seed})
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
torch.manual_seed({seed})
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
torch.manual_seed({seed})
model = nn.Sequential(nn.Linear(12, {width}), nn.BatchNorm1d({width}), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear({width}, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, xv = torch.randn({batch}, 12), torch.randn(16, 12)
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

CORRECT = {
    "regression": REGRESSION, "classifier": CLASSIFIER, "binary": BINARY, "deep_relu": DEEP_RELU,
    "tanh_net": TANH_NET, "dropout_bn": DROPOUT_BN, "cnn_bn": CNN_BN,
    "pixels_scaled": PIXELS, "prices_scaled": PRICES, "counts": COUNTS, "residual": RESIDUAL,
    "sigmoid_shallow": SIGMOID_SHALLOW,
    "sigmoid_output_bce": SIGMOID_OUTPUT_BCE, "converged": CONVERGED, "some_inactive": SOME_INACTIVE,
    "gan": GAN, "transformer": TRANSFORMER, "frozen_teacher_in_eval": TEACHER,
    "validation_first": VALIDATION_FIRST, "pixels_batchnorm_first": PIXELS_BATCHNORM_FIRST,
    "segmentation_ignore": SEGMENTATION_IGNORE,
    "classifier_nll": CLASSIFIER.replace("nn.CrossEntropyLoss()", "nn.NLLLoss()").replace(
        "logits = model(x)", "logits = model(x).log_softmax(dim=1)"),
}


@dataclass
class Broken:
    """A correct cell with one edit, and what nbgrad must say about it."""

    name: str
    base: str
    edit: tuple[str, str]  # (text of the correct cell, its replacement)
    code: str
    severity: str
    layers: list[str] = field(default_factory=list)  # must all appear in diagnosis.layers
    fix_line: bool = True  # the diagnosis names the line marked `# <fix>`
    raises: type[BaseException] | None = None  # the cell's own error, which must propagate

    def source(self, **variant: object) -> str:
        old, new = self.edit
        base = CORRECT.get(self.base, self.base)
        assert old in base, (self.name, old)
        return base.replace(old, new).format(**variant)


BROKEN = [
    # (5) vanishing gradients across depth: the deep net with sigmoids instead of ReLU
    Broken("sigmoid_deep", "deep_relu", ("act = nn.ReLU", "act = nn.Sigmoid  # <fix>"), "NBG501",
           "warning", ["0", "10"]),
    # (5) exploding gradients across depth: the residual connection forgotten in a deep BN stack
    Broken("no_residual", "residual", ("return x + self.fc(", "return self.fc("), "NBG502", "warning",
           ["0", "43"], fix_line=False),
    # (5) NaN/Inf: the data holds a NaN, and a hand-written log loss takes log(0)
    Broken("nan_in_data", "regression", ("x = torch.randn({batch}, 8)\n",
                                         "x = torch.randn({batch}, 8)\nx[3, 1] = float('nan')\n"),
           "NBG503", "error", ["model"], fix_line=False),
    Broken("log_of_zero", "counts", ("torch.log1p(counts)", "torch.log(counts)"), "NBG503", "error"),
    Broken("lr_diverges", "regression", ("lr=1e-2", "lr=1e3"), "NBG503", "error", fix_line=False),
    # (6) saturated tanh from a large initialisation; dead ReLUs from a huge negative bias
    Broken("tanh_large_init", "tanh_net",
           ("opt = torch.optim.SGD",
            "for m in model[::2]: nn.init.normal_(m.weight, std=1.0)  # <fix>\nopt = torch.optim.SGD"),
           "NBG601", "warning", ["0", "2"]),
    Broken("relu_dead_bias", "regression", ("opt = torch.optim.Adam",
                                            "nn.init.constant_(model[2].bias, -20.0)  # <fix>\n"
                                            "opt = torch.optim.Adam"), "NBG602", "error", ["2"]),
    # (7) a loss whose minimum is away from the targets
    Broken("reciprocal_mse", "regression", ("    loss = criterion(out, y)  # <fix>",
                                            "    loss = 1 / criterion(out, y)  # <fix>"),
           "NBG711", "error"),
    Broken("negated_cross_entropy", "classifier", ("    loss = criterion(logits, y)  # <fix>",
                                                   "    loss = -criterion(logits, y)  # <fix>"),
           "NBG711", "error"),
    # (8) loss-function misuse
    Broken("softmax_into_ce", "classifier", ("    logits = model(x)",
                                             "    logits = model(x).softmax(dim=1)"),
           "NBG801", "error", ["criterion"]),
    Broken("softmax_module_into_ce", "classifier", ("nn.Linear({width}, 4))",
                                                    "nn.Linear({width}, 4), nn.Softmax(dim=1))"),
           "NBG801", "error", ["criterion"]),
    Broken("sigmoid_into_bce_logits", "binary", ("    out = model(x)", "    out = torch.sigmoid(model(x))"),
           "NBG801", "error", ["criterion"]),
    Broken("log_softmax_into_ce", "classifier", ("    logits = model(x)",
                                                 "    logits = model(x).log_softmax(dim=1)"),
           "NBG802", "info", ["criterion"]),
    Broken("nll_on_raw_scores", "classifier", ("criterion = nn.CrossEntropyLoss()",
                                               "criterion = nn.NLLLoss()"),
           "NBG803", "error", ["criterion"]),
    Broken("nll_on_probabilities", "classifier_nll", ("model(x).log_softmax(dim=1)",
                                                      "model(x).softmax(dim=1)"),
           "NBG803", "error", ["criterion"]),
    Broken("broadcast_mse", "regression", ("y = x[:, :1] * 2 - x[:, 1:2] + 0.1 * torch.randn({batch}, 1)",
                                           "y = x[:, 0] * 2 - x[:, 1] + 0.1 * torch.randn({batch})"),
           "NBG804", "error", ["criterion"]),
    Broken("broadcast_handwritten", "regression", ("    loss = criterion(out, y)  # <fix>",
                                                   "    loss = ((out - y.squeeze(1)) ** 2).mean()  # <fix>"),
           "NBG804", "error"),
    Broken("labels_one_based", "classifier", ("y = x[:, :4].argmax(dim=1)", "y = x[:, :4].argmax(dim=1) + 1"),
           "NBG805", "error", ["criterion"], raises=IndexError),
    Broken("bce_targets_not_binary", "binary", ("y = (x[:, :1] > 0).float()",
                                                "y = (x[:, :1] > 0).float() * 3"),
           "NBG806", "error", ["criterion"]),
    # (9) eval mode while training; BatchNorm on batches of one
    Broken("eval_mode", "dropout_bn", ("model.train()  # <fix>", "model.eval()  # <fix>"),
           "NBG651", "warning", ["1", "3"]),
    Broken("batchnorm_batch_one", "cnn_bn", ("batch_size = 32", "batch_size = 1"), "NBG652", "warning", ["1"],
           fix_line=False),
    Broken("batchnorm1d_batch_one", "dropout_bn", ("x = torch.randn({batch}, 12)", "x = torch.randn(1, 12)"),
           "NBG652", "error", raises=ValueError, fix_line=False),
    # (10) constant initialisation
    Broken("constant_init", "regression", ("opt = torch.optim.Adam",
                                           "for p in model.parameters(): nn.init.constant_(p, 0.1)  # <fix>\n"
                                           "opt = torch.optim.Adam"), "NBG551", "error", ["0", "2"]),
    Broken("zero_init", "classifier", ("opt = torch.optim.SGD",
                                       "for p in model.parameters(): p.data.zero_()  # <fix>\n"
                                       "opt = torch.optim.SGD"), "NBG551", "error", ["0"]),
    # (12) inputs and targets on the wrong scale
    Broken("raw_pixels", "pixels_scaled", ("x = images / 255.0", "x = images"), "NBG851", "warning",
           ["model"]),
    Broken("prices_unscaled", "prices_scaled", ("y = (price - price.mean()) / price.std()", "y = price"),
           "NBG852", "warning"),
]
