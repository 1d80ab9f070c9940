"""The char-RNN classifier is instantiated twice: the optimizer holds the first instance's parameters while the loop trains the second, and the loss does not diminish."""

SOURCE = "https://github.com/spro/practical-pytorch/issues/9"
CAUSE = "optimizer-on-stale-model"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n_letters, n_hidden, n_categories = 26, 64, 4

class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        return self.i2o(combined), torch.tanh(self.i2h(combined))

    def initHidden(self, n):
        return torch.zeros(n, self.hidden_size)

rnn = RNN(n_letters, n_hidden, n_categories)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()

# names: the language decides which letters are frequent
letter_probs = torch.softmax(torch.randn(n_categories, n_letters) * 2, dim=1)
def sample(batch=32, length=6):
    category = torch.randint(0, n_categories, (batch,))
    letters = torch.multinomial(letter_probs[category], length, replacement=True)
    return nn.functional.one_hot(letters, n_letters).float(), category

rnn = RNN(n_letters, n_hidden, n_categories)
for it in range(200):
    line_tensor, category_tensor = sample()
    hidden = rnn.initHidden(32)
    optimizer.zero_grad()
    for i in range(line_tensor.size(1)):
        output, hidden = rnn(line_tensor[:, i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n_letters, n_hidden, n_categories = 26, 64, 4

class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        return self.i2o(combined), torch.tanh(self.i2h(combined))

    def initHidden(self, n):
        return torch.zeros(n, self.hidden_size)

rnn = RNN(n_letters, n_hidden, n_categories)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()

# names: the language decides which letters are frequent
letter_probs = torch.softmax(torch.randn(n_categories, n_letters) * 2, dim=1)
def sample(batch=32, length=6):
    category = torch.randint(0, n_categories, (batch,))
    letters = torch.multinomial(letter_probs[category], length, replacement=True)
    return nn.functional.one_hot(letters, n_letters).float(), category

for it in range(200):
    line_tensor, category_tensor = sample()
    hidden = rnn.initHidden(32)
    optimizer.zero_grad()
    for i in range(line_tensor.size(1)):
        output, hidden = rnn(line_tensor[:, i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    optimizer.step()'''
FIX_LINES = [32]
STEPS = 60
