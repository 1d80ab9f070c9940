"""A ranking distillation loss calls KLDivLoss(scores.softmax(-1), labels.softmax(-1)) although KLDivLoss expects log-probabilities as input."""

SOURCE = "https://github.com/sebastian-hofstaetter/matchmaker/issues/18"
CAUSE = "kldiv-on-probabilities"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
teacher = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
student = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
for p in teacher.parameters():
    p.requires_grad_(False)
queries = torch.randn(5000, 32)
X_val = torch.randn(500, 32)

kl = torch.nn.KLDivLoss(reduction="batchmean")
optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
for step in range(500):
    x = queries[torch.randint(0, 5000, (64,))]
    scores, labels = student(x), teacher(x)
    loss = kl(scores.softmax(-1), labels.softmax(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
teacher = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
student = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
for p in teacher.parameters():
    p.requires_grad_(False)
queries = torch.randn(5000, 32)
X_val = torch.randn(500, 32)

kl = torch.nn.KLDivLoss(reduction="batchmean")
optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
for step in range(500):
    x = queries[torch.randint(0, 5000, (64,))]
    scores, labels = student(x), teacher(x)
    loss = kl(scores.log_softmax(-1), labels.softmax(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [17]
STEPS = 30
HELD = "F.kl_div(student(X_val).log_softmax(-1), teacher(X_val).softmax(-1), reduction='batchmean').item()"
