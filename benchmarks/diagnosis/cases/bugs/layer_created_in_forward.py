"""A network creates its torch.nn.Linear layers inside forward(), so model.parameters() is empty and new random weights are used on every call."""

SOURCE = "https://github.com/pytorch/pytorch/issues/1291"
CAUSE = "layer-created-in-forward"
CELL = '''\
import torch

torch.manual_seed(0)
D_in, H, D_out = 100, 50, 10

class ThreeLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, H)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(min=0)
        h_relu = self.linear2(h_relu).clamp(min=0)
        y_pred = torch.nn.Linear(H, D_out)(h_relu)
        return y_pred

x = torch.randn(64, D_in)
y = x[:, :D_out] - 0.5 * x[:, D_out:2 * D_out]
model = ThreeLayerNet(D_in, H, D_out)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for t in range(100):
    loss = torch.nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch

torch.manual_seed(0)
D_in, H, D_out = 100, 50, 10

class ThreeLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, H)
        self.linear3 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(min=0)
        h_relu = self.linear2(h_relu).clamp(min=0)
        y_pred = self.linear3(h_relu)
        return y_pred

x = torch.randn(64, D_in)
y = x[:, :D_out] - 0.5 * x[:, D_out:2 * D_out]
model = ThreeLayerNet(D_in, H, D_out)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for t in range(100):
    loss = torch.nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [15]
STEPS = 30
