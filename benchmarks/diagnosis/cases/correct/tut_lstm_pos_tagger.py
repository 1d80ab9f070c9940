"""An LSTM part-of-speech tagger: one sentence per step, word embeddings -> LSTM -> log_softmax, NLLLoss, SGD lr 0.1, model.zero_grad() before each sentence."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/beginner_source/nlp/sequence_models_tutorial.py"
PROGRAM = "PyTorch tutorials: sequence models and LSTM networks (POS tagger)"
CELL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

torch.manual_seed(1)

dets, nouns, verbs = ["the", "a", "every"], ["cat", "dog", "book", "apple", "bird"], ["ate", "saw", "read", "liked"]
training_data = []
for _ in range(40):
    det1, det2 = dets[int(torch.randint(0, 3, (1,)))], dets[int(torch.randint(0, 3, (1,)))]
    n1, n2 = nouns[int(torch.randint(0, 5, (1,)))], nouns[int(torch.randint(0, 5, (1,)))]
    v = verbs[int(torch.randint(0, 4, (1,)))]
    training_data.append(([det1, n1, v, det2, n2], ["DET", "NN", "V", "DET", "NN"]))

word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
EMBEDDING_DIM, HIDDEN_DIM = 6, 6


def prepare_sequence(seq, to_ix):
    return torch.tensor([to_ix[w] for w in seq], dtype=torch.long)


class LSTMTagger(nn.Module):
    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        return F.log_softmax(tag_space, dim=1)


model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)

for epoch in range(300):
    for sentence, tags in training_data:
        model.zero_grad()
        sentence_in = prepare_sequence(sentence, word_to_ix)
        targets = prepare_sequence(tags, tag_to_ix)
        tag_scores = model(sentence_in)
        loss = loss_function(tag_scores, targets)
        loss.backward()
        optimizer.step()
'''
STEPS = 10
