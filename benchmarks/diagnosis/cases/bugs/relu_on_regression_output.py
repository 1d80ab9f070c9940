"""An LSTM regression network constantly returns 0 for every peptide: the final layer has a ReLU, and with an unlucky initialisation the output is always negative before it."""

SOURCE = "https://github.com/ProteomicsML/ProteomicsML/pull/203"
CAUSE = "relu-on-output"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
aa = 20
seqs = torch.randint(0, aa, (1500, 15))
hydro = torch.randn(aa)
ccs = hydro[seqs].mean(1, keepdim=True) * 3  # standardised target, about half negative

class CCSModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(aa, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.fc = nn.Linear(32, 1)
        self.act = nn.ReLU()

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.act(self.fc(h[:, -1]))

model = CCSModel()
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
for epoch in range(3):
    for i in range(0, 1500, 50):
        loss = nn.functional.mse_loss(model(seqs[i:i + 50]), ccs[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
aa = 20
seqs = torch.randint(0, aa, (1500, 15))
hydro = torch.randn(aa)
ccs = hydro[seqs].mean(1, keepdim=True) * 3  # standardised target, about half negative

class CCSModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(aa, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.fc = nn.Linear(32, 1)
        self.act = nn.ReLU()

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.fc(h[:, -1])

model = CCSModel()
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
for epoch in range(3):
    for i in range(0, 1500, 50):
        loss = nn.functional.mse_loss(model(seqs[i:i + 50]), ccs[i:i + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [20]
STEPS = 40
