"""A Siamese network (small ResNet, BCE on a sigmoid) on pairs of raw 0-255 digits."""
SOURCE = "https://github.com/pytorch/examples/blob/main/siamese_network/main.py"
PROGRAM = "pytorch/examples: Siamese network"
CELL = '''
import random
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import Dataset, DataLoader


class BasicBlock(nn.Module):
    """The ResNet-18 block (torchvision's resnet18 is not installed here)."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def small_resnet():
    """resnet18's layout at a quarter of the width and one block per stage; its conv1 takes 1 channel."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False),
        nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
        BasicBlock(16, 16), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2), BasicBlock(64, 128, 2),
        nn.AdaptiveAvgPool2d((1, 1)))


class SiameseNetwork(nn.Module):
    def __init__(self):
        super(SiameseNetwork, self).__init__()
        self.resnet = small_resnet()
        self.fc_in_features = 128
        self.fc = nn.Sequential(
            nn.Linear(self.fc_in_features * 2, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 1),
        )
        self.sigmoid = nn.Sigmoid()
        self.resnet.apply(self.init_weights)
        self.fc.apply(self.init_weights)

    def init_weights(self, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            m.bias.data.fill_(0.01)

    def forward_once(self, x):
        output = self.resnet(x)
        output = output.view(output.size()[0], -1)
        return output

    def forward(self, input1, input2):
        output1 = self.forward_once(input1)
        output2 = self.forward_once(input2)
        output = torch.cat((output1, output2), 1)
        output = self.fc(output)
        output = self.sigmoid(output)
        return output


class APP_MATCHER(Dataset):
    """Pairs of 28x28 uint8-range digits (raw 0-255 floats, as the example feeds MNIST's .data):
    even indices share a class, odd ones do not."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        templates = torch.zeros(10, 28, 28)
        for k in range(10):
            templates[k, 3 + 2 * k:6 + 2 * k, 4:24] = 255.0
        self.targets = torch.randint(0, 10, (n,), generator=g)
        noise = torch.randint(0, 80, (n, 28, 28), generator=g).float()
        self.data = (templates[self.targets] * 0.8 + noise).clamp(0, 255).unsqueeze(1)
        self.grouped_examples = {i: torch.where(self.targets == i)[0] for i in range(10)}

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        selected_class = random.randint(0, 9)
        group = self.grouped_examples[selected_class]
        image_1 = self.data[group[random.randint(0, len(group) - 1)]].clone().float()
        if index % 2 == 0:
            image_2 = self.data[group[random.randint(0, len(group) - 1)]].clone().float()
            target = torch.tensor(1, dtype=torch.float)
        else:
            other_selected_class = random.randint(0, 9)
            while other_selected_class == selected_class:
                other_selected_class = random.randint(0, 9)
            other = self.grouped_examples[other_selected_class]
            image_2 = self.data[other[random.randint(0, len(other) - 1)]].clone().float()
            target = torch.tensor(0, dtype=torch.float)
        return image_1, image_2, target


def train(model, device, train_loader, optimizer, epoch, log_interval=10):
    model.train()
    criterion = nn.BCELoss()
    for batch_idx, (images_1, images_2, targets) in enumerate(train_loader):
        images_1, images_2, targets = images_1.to(device), images_2.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = model(images_1, images_2).squeeze()
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{}]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(images_1), len(train_loader.dataset), loss.item()))


def main():
    torch.manual_seed(1)
    random.seed(1)
    device = torch.device("cpu")
    train_loader = DataLoader(APP_MATCHER(640, 0), batch_size=32)
    model = SiameseNetwork().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, 15):
        train(model, device, train_loader, optimizer, epoch)
        scheduler.step()


if __name__ == '__main__':
    main()
'''
STEPS = 10
