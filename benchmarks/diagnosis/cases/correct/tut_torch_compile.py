"""The torch.compile tutorial train step, compiled whole (backend eager), Adam."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/intermediate_source/torch_compile_tutorial.py"
PROGRAM = "PyTorch tutorials: torch.compile (compiled train step)"
CELL = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
N_ITERS = 10


def generate_data(b):
    """Images and labels like the tutorial's, but the label is which quadrant is brightest."""
    x = torch.randn(b, 3, 32, 32)
    labels = torch.randint(0, 4, (b,))
    rows, cols = (labels // 2) * 16, (labels % 2) * 16
    for i in range(b):
        x[i, :, rows[i]:rows[i] + 16, cols[i]:cols[i] + 16] += 1.5
    return x, labels


def init_model():
    """A small CNN in place of torchvision's resnet18 (not installed here)."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), nn.Linear(128, 10))


model = init_model()
opt = torch.optim.Adam(model.parameters())


def train(mod, data):
    opt.zero_grad(True)
    pred = mod(data[0])
    loss = torch.nn.CrossEntropyLoss()(pred, data[1])
    loss.backward()
    opt.step()


train_opt = torch.compile(train, backend="eager")
for i in range(N_ITERS * 3):
    inp = generate_data(16)
    train_opt(model, inp)
'''
STEPS = 10
