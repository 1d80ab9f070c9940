"""An EmbeddingBag + Linear text classifier on (text, offsets) batches: SGD lr 5, clip_grad_norm_ 0.1 before every step, StepLR(gamma=0.1) stepped per epoch when validation accuracy stops improving."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/beginner_source/text_sentiment_ngrams_tutorial.py"
PROGRAM = "PyTorch tutorials: text classification with torchtext (AG_NEWS, EmbeddingBag)"
HELD_OUT = "2026-11-30"
CELL = '''
import torch
from torch import nn

torch.manual_seed(0)
vocab_size, emsize, num_class = 500, 64, 4
EPOCHS, LR, BATCH_SIZE = 10, 5, 64


def synthetic_news(n):
    """Each article: 8 to 30 token ids, a third of them drawn from its class's own 25 words."""
    items = []
    for _ in range(n):
        label = int(torch.randint(0, num_class, (1,)))
        length = int(torch.randint(8, 31, (1,)))
        common = torch.randint(100, vocab_size, (length,))
        topical = torch.randint(label * 25, label * 25 + 25, (length,))
        text = torch.where(torch.rand(length) < 0.35, topical, common)
        items.append((label, text))
    return items


def collate_batch(batch):
    label_list = torch.tensor([label for label, _ in batch], dtype=torch.int64)
    text_list = [text for _, text in batch]
    offsets = torch.tensor([0] + [len(t) for t in text_list[:-1]]).cumsum(dim=0)
    return label_list, torch.cat(text_list), offsets


train_data = synthetic_news(1280)
valid_data = synthetic_news(256)
train_dataloader = torch.utils.data.DataLoader(train_data, batch_size=BATCH_SIZE, shuffle=True,
                                               collate_fn=collate_batch)
valid_dataloader = torch.utils.data.DataLoader(valid_data, batch_size=BATCH_SIZE, shuffle=False,
                                               collate_fn=collate_batch)


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


model = TextClassificationModel(vocab_size, emsize, num_class)
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=LR)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)


def train(dataloader):
    model.train()
    for idx, (label, text, offsets) in enumerate(dataloader):
        optimizer.zero_grad()
        predicted_label = model(text, offsets)
        loss = criterion(predicted_label, label)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()


def evaluate(dataloader):
    model.eval()
    total_acc, total_count = 0, 0
    with torch.no_grad():
        for idx, (label, text, offsets) in enumerate(dataloader):
            predicted_label = model(text, offsets)
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
    return total_acc / total_count


total_accu = None
for epoch in range(1, EPOCHS + 1):
    train(train_dataloader)
    accu_val = evaluate(valid_dataloader)
    if total_accu is not None and total_accu > accu_val:
        scheduler.step()
    else:
        total_accu = accu_val
'''
STEPS = 10
