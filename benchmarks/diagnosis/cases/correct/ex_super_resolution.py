"""ESPCN super-resolution with PixelShuffle (x3) on luminance images, MSE, Adam."""
SOURCE = "https://github.com/pytorch/examples/blob/main/super_resolution/main.py"
PROGRAM = "pytorch/examples: super resolution (ESPCN)"
CELL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.init as init
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


def synthetic_luminance(n, crop_size, upscale_factor, seed):
    """Y channels in [0, 1] made of a few smooth waves; the input is the bicubic-downscaled crop."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, crop_size), torch.linspace(0, 1, crop_size), indexing="ij")
    freq = torch.rand(n, 3, 2, generator=g) * 8
    phase = torch.rand(n, 3, generator=g) * 6.28
    waves = torch.sin(freq[:, :, 0, None, None] * 6.28 * xx + freq[:, :, 1, None, None] * 6.28 * yy
                      + phase[:, :, None, None])
    target = (0.5 + 0.5 * waves.mean(1, keepdim=True)).clamp(0, 1)
    inputs = F.interpolate(target, size=crop_size // upscale_factor, mode="bicubic", antialias=True)
    return TensorDataset(inputs.clamp(0, 1), target)


torch.manual_seed(123)
device = torch.device("cpu")
# the README's command: --upscale_factor 3 --batchSize 4 --lr 0.001
upscale_factor, batchSize, lr, nEpochs = 3, 4, 0.001, 30
training_data_loader = DataLoader(dataset=synthetic_luminance(200, 48, upscale_factor, 0),
                                  batch_size=batchSize, shuffle=True)
model = Net(upscale_factor=upscale_factor).to(device)
criterion = nn.MSELoss()
optimizer = optim.Adam(model.parameters(), lr=lr)


def train(epoch):
    epoch_loss = 0
    for iteration, batch in enumerate(training_data_loader, 1):
        input, target = batch[0].to(device), batch[1].to(device)
        optimizer.zero_grad()
        loss = criterion(model(input), target)
        epoch_loss += loss.item()
        loss.backward()
        optimizer.step()
        print("===> Epoch[{}]({}/{}): Loss: {:.4f}".format(
            epoch, iteration, len(training_data_loader), loss.item()))
    print("===> Epoch {} Complete: Avg. Loss: {:.4f}".format(epoch, epoch_loss / len(training_data_loader)))


for epoch in range(1, nEpochs + 1):
    train(epoch)
'''
STEPS = 10
