"""A classifier with num_classes outputs is trained on labels numbered 1..num_classes and fails with 'Target 12 is out of bounds'."""

SOURCE = "https://github.com/TencentGameMate/gnn_cross_lingual/issues/5"
CAUSE = "class-label-out-of-range"
CELL = '''\
import torch
from torch import nn

torch.manual_seed(0)
num_classes = 12
intent_vectors = torch.randn(num_classes, 48)
labels = torch.randint(1, num_classes + 1, (3000,))  # intents are numbered from 1 in the CSV
utterances = intent_vectors[labels - 1] + 0.5 * torch.randn(3000, 48)

classifier = nn.Sequential(nn.Linear(48, 96), nn.ReLU(), nn.Dropout(0.1), nn.Linear(96, num_classes))
loss_fct = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(classifier.parameters(), lr=2e-3)
for epoch in range(4):
    for i in range(0, 3000, 32):
        b_input, b_labels = utterances[i:i + 32], labels[i:i + 32]
        logits = classifier(b_input)
        loss = loss_fct(logits, b_labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX = '''\
import torch
from torch import nn

torch.manual_seed(0)
num_classes = 12
intent_vectors = torch.randn(num_classes, 48)
labels = torch.randint(1, num_classes + 1, (3000,))  # intents are numbered from 1 in the CSV
utterances = intent_vectors[labels - 1] + 0.5 * torch.randn(3000, 48)

classifier = nn.Sequential(nn.Linear(48, 96), nn.ReLU(), nn.Dropout(0.1), nn.Linear(96, num_classes))
loss_fct = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(classifier.parameters(), lr=2e-3)
for epoch in range(4):
    for i in range(0, 3000, 32):
        b_input, b_labels = utterances[i:i + 32], labels[i:i + 32]
        logits = classifier(b_input)
        loss = loss_fct(logits, b_labels - 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()'''
FIX_LINES = [17]
