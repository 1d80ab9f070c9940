"""An MLP with dropout written from scratch (mask applied only in training mode)."""
SOURCE = "https://github.com/d2l-ai/d2l-en/blob/master/chapter_multilayer-perceptrons/dropout.md"
PROGRAM = "d2l.ai: dropout from scratch"
CELL = '''
import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)


class FashionMNIST:
    """d2l.FashionMNIST's shapes (1x28x28 in [0, 1], 10 classes) with synthetic silhouettes."""

    def __init__(self, batch_size=64, n_train=2048, n_val=512):
        self.batch_size = batch_size
        g = torch.Generator().manual_seed(0)
        yy, xx = torch.meshgrid(torch.arange(28.), torch.arange(28.), indexing="ij")
        shapes = torch.stack([((xx - 14).abs() < 2 + k) & ((yy - 14).abs() < 13 - k)
                              for k in range(10)]).float()
        n = n_train + n_val
        self.y = torch.randint(0, 10, (n,), generator=g)
        X = (shapes[self.y] * (0.6 + 0.4 * torch.rand(n, 1, 1, generator=g))
             + 0.15 * torch.rand(n, 28, 28, generator=g))
        self.X = X.clamp(0, 1).unsqueeze(1)
        self.n_train = n_train

    def get_dataloader(self, train):
        i = slice(0, self.n_train) if train else slice(self.n_train, None)
        dataset = torch.utils.data.TensorDataset(self.X[i], self.y[i])
        return torch.utils.data.DataLoader(dataset, self.batch_size, shuffle=train)

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)


class Module(nn.Module):
    """d2l.Module without the plotting: training_step, validation_step, SGD over parameters()."""

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        return self.net(X)

    def training_step(self, batch):
        return self.loss(self(*batch[:-1]), batch[-1])

    def validation_step(self, batch):
        return self.loss(self(*batch[:-1]), batch[-1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class Classifier(Module):
    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction='mean' if averaged else 'none')


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


class DropoutMLPScratch(Classifier):
    def __init__(self, num_outputs, num_hiddens_1, num_hiddens_2, dropout_1, dropout_2, lr):
        super().__init__()
        self.dropout_1, self.dropout_2, self.lr = dropout_1, dropout_2, lr
        self.lin1 = nn.LazyLinear(num_hiddens_1)
        self.lin2 = nn.LazyLinear(num_hiddens_2)
        self.lin3 = nn.LazyLinear(num_outputs)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((X.shape[0], -1))))
        if self.training:
            H1 = dropout_layer(H1, self.dropout_1)
        H2 = self.relu(self.lin2(H1))
        if self.training:
            H2 = dropout_layer(H2, self.dropout_2)
        return self.lin3(H2)


class Trainer:
    """d2l.Trainer's loop: backward and the optimizer step run inside torch.no_grad()."""

    def __init__(self, max_epochs, gradient_clip_val=0):
        self.max_epochs = max_epochs
        self.gradient_clip_val = gradient_clip_val

    def prepare_batch(self, batch):
        return batch

    def clip_gradients(self, grad_clip_val, model):
        params = [p for p in model.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm

    def fit(self, model, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.model = model
        self.optim = model.configure_optimizers()
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        for self.epoch in range(self.max_epochs):
            self.fit_epoch()

    def fit_epoch(self):
        self.model.train()
        for batch in self.train_dataloader:
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.eval()
        for batch in self.val_dataloader:
            with torch.no_grad():
                self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1


hparams = {'num_outputs': 10, 'num_hiddens_1': 256, 'num_hiddens_2': 256,
           'dropout_1': 0.5, 'dropout_2': 0.5, 'lr': 0.1}
model = DropoutMLPScratch(**hparams)
data = FashionMNIST(batch_size=256)
model(next(iter(data.train_dataloader()))[0])  # materialise the lazy layers before the optimizer is made
trainer = Trainer(max_epochs=10)
trainer.fit(model, data)
'''
STEPS = 10
