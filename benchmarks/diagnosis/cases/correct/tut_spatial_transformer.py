"""A spatial transformer network (zero-initialised localisation head) before a small CNN."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/intermediate_source/spatial_transformer_tutorial.py"
PROGRAM = "PyTorch tutorials: spatial transformer networks"
CELL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = torch.device("cpu")


def synthetic_mnist(n, seed):
    """Normalised 28x28 digits (one bar per class) shifted by up to 3 pixels, which the STN can undo."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.zeros(10, 28, 28)
    for k in range(10):
        templates[k, 4 + 2 * k:6 + 2 * k, 6:22] = 1.0
        templates[k, 6:22, 4 + 2 * k:6 + 2 * k] = 0.5
    labels = torch.randint(0, 10, (n,), generator=g)
    shifts = torch.randint(-3, 4, (n, 2), generator=g)
    images = torch.stack([torch.roll(templates[l], (int(s[0]), int(s[1])), (0, 1))
                          for l, s in zip(labels, shifts)])
    images = (images + 0.2 * torch.rand(n, 28, 28, generator=g)).clamp(0, 1)
    return TensorDataset(((images - 0.1307) / 0.3081).unsqueeze(1), labels)


train_loader = DataLoader(synthetic_mnist(1280, 0), batch_size=64, shuffle=True)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2)
        )
        # Initialize the weights/bias with identity transformation
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False)
        return x

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


model = Net().to(device)
optimizer = optim.SGD(model.parameters(), lr=0.01)


def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 500 == 0:
            print('Train Epoch: {} [{}/{}]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset), loss.item()))


for epoch in range(1, 20 + 1):
    train(epoch)
'''
STEPS = 10
