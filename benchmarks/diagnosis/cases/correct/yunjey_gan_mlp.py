"""A fully connected GAN: LeakyReLU discriminator ending in a sigmoid and BCELoss, tanh generator, one Adam (lr 2e-4) each, both gradients reset before every backward."""
SOURCE = "https://github.com/yunjey/pytorch-tutorial/blob/master/tutorials/03-advanced/generative_adversarial_network/main.py"
PROGRAM = "yunjey/pytorch-tutorial: generative adversarial network (MNIST)"
HELD_OUT = "2026-11-30"
CELL = '''
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
latent_size, hidden_size, image_size = 64, 256, 784
num_epochs, batch_size = 2, 100

strokes = torch.rand(10, image_size)
picks = torch.randint(0, 10, (2000,))
mnist = ((strokes[picks] + 0.2 * torch.rand(2000, image_size)).clamp(0, 1) - 0.5) / 0.5  # Normalize(0.5, 0.5)
data_loader = DataLoader(TensorDataset(mnist), batch_size=batch_size, shuffle=True)

D = nn.Sequential(
    nn.Linear(image_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, 1),
    nn.Sigmoid())

G = nn.Sequential(
    nn.Linear(latent_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, image_size),
    nn.Tanh())

criterion = nn.BCELoss()
d_optimizer = torch.optim.Adam(D.parameters(), lr=0.0002)
g_optimizer = torch.optim.Adam(G.parameters(), lr=0.0002)


def reset_grad():
    d_optimizer.zero_grad()
    g_optimizer.zero_grad()


for epoch in range(num_epochs):
    for i, (images,) in enumerate(data_loader):
        images = images.reshape(batch_size, -1)
        real_labels = torch.ones(batch_size, 1)
        fake_labels = torch.zeros(batch_size, 1)

        outputs = D(images)
        d_loss_real = criterion(outputs, real_labels)
        z = torch.randn(batch_size, latent_size)
        fake_images = G(z)
        outputs = D(fake_images)
        d_loss_fake = criterion(outputs, fake_labels)
        d_loss = d_loss_real + d_loss_fake
        reset_grad()
        d_loss.backward()
        d_optimizer.step()

        z = torch.randn(batch_size, latent_size)
        fake_images = G(z)
        outputs = D(fake_images)
        g_loss = criterion(outputs, real_labels)
        reset_grad()
        g_loss.backward()
        g_optimizer.step()
'''
STEPS = 10
