"""A fully-connected VAE on 784-pixel images (summed BCE plus KL divergence)."""
SOURCE = "https://github.com/pytorch/examples/blob/main/vae/main.py"
PROGRAM = "pytorch/examples: VAE"
CELL = '''
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

torch.manual_seed(1)
device = torch.device("cpu")


def synthetic_images(n, seed):
    """1x28x28 images in [0, 1] (ToTensor): one of ten stroke shapes, lightly jittered."""
    g = torch.Generator().manual_seed(seed)
    shapes = torch.zeros(10, 28, 28)
    for k in range(10):
        shapes[k, 4 + 2 * k:7 + 2 * k, 4:24] = 1.0
        shapes[k, 4:24, 20 - k:23 - k] = 1.0
    labels = torch.randint(0, 10, (n,), generator=g)
    images = (shapes[labels] * (0.8 + 0.2 * torch.rand(n, 1, 1, generator=g))).unsqueeze(1)
    return torch.utils.data.TensorDataset(images, labels)


train_loader = torch.utils.data.DataLoader(synthetic_images(1280, 0), batch_size=128, shuffle=True)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % 10 == 0:
            print('Train Epoch: {} [{}/{}]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset), loss.item() / len(data)))
    print('====> Epoch: {} Average loss: {:.4f}'.format(epoch, train_loss / len(train_loader.dataset)))


if __name__ == "__main__":
    for epoch in range(1, 11):
        train(epoch)
'''
STEPS = 10
