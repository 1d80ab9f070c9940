"""compute_objectives returns loss = Variable(loss, requires_grad=True) built from a detached value, so training runs but nothing learns."""

SOURCE = "https://github.com/speechbrain/speechbrain/issues/735"
CAUSE = "loss-rebuilt-from-item"
CELL = '''\
import torch
from torch.autograd import Variable

torch.manual_seed(0)
speakers = torch.randn(8, 40)
spk = torch.randint(0, 8, (1600,))
feats = speakers[spk] + 0.7 * torch.randn(1600, 40)

model = torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.LeakyReLU(), torch.nn.Linear(64, 8))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

def compute_objectives(predictions, targets):
    loss = torch.nn.functional.cross_entropy(predictions, targets)
    loss = Variable(loss.detach(), requires_grad=True)
    return loss

for epoch in range(5):
    for i in range(0, 1600, 32):
        predictions = model(feats[i:i + 32])
        loss = compute_objectives(predictions, spk[i:i + 32])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX = '''\
import torch
from torch.autograd import Variable

torch.manual_seed(0)
speakers = torch.randn(8, 40)
spk = torch.randint(0, 8, (1600,))
feats = speakers[spk] + 0.7 * torch.randn(1600, 40)

model = torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.LeakyReLU(), torch.nn.Linear(64, 8))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

def compute_objectives(predictions, targets):
    loss = torch.nn.functional.cross_entropy(predictions, targets)
    return loss

for epoch in range(5):
    for i in range(0, 1600, 32):
        predictions = model(feats[i:i + 32])
        loss = compute_objectives(predictions, spk[i:i + 32])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX_LINES = [14]
STEPS = 30
