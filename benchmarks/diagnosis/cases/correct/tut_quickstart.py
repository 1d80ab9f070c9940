"""The PyTorch quickstart MLP on FashionMNIST-shaped images, SGD lr 1e-3."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/beginner_source/basics/quickstart_tutorial.py"
PROGRAM = "PyTorch tutorials: quickstart"
CELL = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def synthetic_fashion(n, seed):
    """28x28 images in [0, 1] (ToTensor, no normalisation): each class has its own silhouette."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.), torch.arange(28.), indexing="ij")
    shapes = torch.stack([((xx - 14).abs() < 3 + k) & ((yy - 14).abs() < 12 - k) for k in range(10)]).float()
    labels = torch.randint(0, 10, (n,), generator=g)
    images = (shapes[labels] * (0.5 + 0.5 * torch.rand(n, 1, 1, generator=g))
              + 0.1 * torch.rand(n, 28, 28, generator=g))
    return TensorDataset(images.clamp(0, 1).unsqueeze(1), labels)


training_data = synthetic_fashion(6400, 0)
test_data = synthetic_fashion(256, 1)
batch_size = 64
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
device = "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f}")


torch.manual_seed(0)
epochs = 5
for t in range(epochs):
    print(f"Epoch {t + 1}\\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")
'''
STEPS = 10
