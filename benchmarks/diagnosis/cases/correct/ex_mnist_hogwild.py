"""The Hogwild MNIST CNN (Dropout2d, SGD momentum) trained as one worker does."""
SOURCE = "https://github.com/pytorch/examples/blob/main/mnist_hogwild/train.py"
PROGRAM = "pytorch/examples: MNIST Hogwild (one worker)"
CELL = '''
import os
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import TensorDataset


def synthetic_mnist(n, seed):
    g = torch.Generator().manual_seed(seed)
    templates = torch.zeros(10, 28, 28)
    for k in range(10):
        r = 2 + 2 * k
        templates[k, r:r + 4, 2:26] = 1.0
        templates[k, 2:26, 24 - 2 * k:26 - 2 * k] = 0.8
    labels = torch.randint(0, 10, (n,), generator=g)
    images = templates[labels] + 0.5 * torch.rand(n, 28, 28, generator=g)
    images = ((images.clamp(0, 1) - 0.1307) / 0.3081).unsqueeze(1)
    return TensorDataset(images, labels)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(rank, args, model, device, dataset, dataloader_kwargs):
    torch.manual_seed(args.seed + rank)
    train_loader = torch.utils.data.DataLoader(dataset, **dataloader_kwargs)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        train_epoch(epoch, args, model, device, train_loader, optimizer)


def train_epoch(epoch, args, model, device, data_loader, optimizer):
    model.train()
    pid = os.getpid()
    for batch_idx, (data, target) in enumerate(data_loader):
        optimizer.zero_grad()
        output = model(data.to(device))
        loss = F.nll_loss(output, target.to(device))
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('{}\\tTrain Epoch: {} [{}/{}]\\tLoss: {:.6f}'.format(
                pid, epoch, batch_idx * len(data), len(data_loader.dataset), loss.item()))


parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
parser.add_argument('--batch-size', type=int, default=64)
parser.add_argument('--epochs', type=int, default=10)
parser.add_argument('--lr', type=float, default=0.01)
parser.add_argument('--momentum', type=float, default=0.5)
parser.add_argument('--seed', type=int, default=1)
parser.add_argument('--log-interval', type=int, default=10)

if __name__ == '__main__':
    args = parser.parse_args([])
    device = torch.device("cpu")
    dataset1 = synthetic_mnist(1280, 0)
    kwargs = {'batch_size': args.batch_size, 'shuffle': True}
    torch.manual_seed(args.seed)
    model = Net().to(device)
    model.share_memory()
    train(0, args, model, device, dataset1, kwargs)
'''
STEPS = 10
