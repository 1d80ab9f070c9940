"""A two-layer bidirectional LSTM reads 28x28 images row by row (batch_first) and classifies from the last step; Adam lr 0.003."""
SOURCE = "https://github.com/yunjey/pytorch-tutorial/blob/master/tutorials/02-intermediate/bidirectional_recurrent_neural_network/main.py"
PROGRAM = "yunjey/pytorch-tutorial: bidirectional recurrent neural network (MNIST)"
HELD_OUT = "2026-11-30"
CELL = '''
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
sequence_length, input_size, hidden_size, num_layers, num_classes = 28, 28, 64, 2, 10
batch_size, num_epochs, learning_rate = 100, 2, 0.003

strokes = torch.rand(num_classes, 28, 28)
labels = torch.randint(0, num_classes, (2000,))
images = (strokes[labels] + 0.3 * torch.rand(2000, 28, 28)).clamp(0, 1).unsqueeze(1)
train_loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)


class BiRNN(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_size * 2, num_classes)

    def forward(self, x):
        h0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
        c0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
        out, _ = self.lstm(x, (h0, c0))
        return self.fc(out[:, -1, :])


model = BiRNN(input_size, hidden_size, num_layers, num_classes)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images = images.reshape(-1, sequence_length, input_size)
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
'''
STEPS = 10
