"""A seq2seq nn.Transformer translator with padding masks and CrossEntropy(ignore_index=pad)."""
SOURCE = "https://github.com/pytorch/examples/blob/main/language_translation/main.py"
PROGRAM = "pytorch/examples: language translation (Transformer)"
CELL = '''
import math

import torch
from torch import nn

DEVICE = torch.device("cpu")


class PositionalEncoding(nn.Module):
    def __init__(self, emb_size, dropout, maxlen=5000):
        super(PositionalEncoding, self).__init__()
        den = torch.exp(- torch.arange(0, emb_size, 2) * math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        pos_embedding = pos_embedding.unsqueeze(-2)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer('pos_embedding', pos_embedding)

    def forward(self, token_embedding):
        return self.dropout(token_embedding + self.pos_embedding[:token_embedding.size(0), :])


class Translator(nn.Module):
    def __init__(self, num_encoder_layers, num_decoder_layers, embed_size, num_heads, src_vocab_size,
                 tgt_vocab_size, dim_feedforward, dropout):
        super(Translator, self).__init__()
        self.src_embedding = nn.Embedding(src_vocab_size, embed_size)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_size)
        self.pos_enc = PositionalEncoding(embed_size, dropout)
        self.transformer = nn.Transformer(d_model=embed_size, nhead=num_heads,
                                          num_encoder_layers=num_encoder_layers,
                                          num_decoder_layers=num_decoder_layers,
                                          dim_feedforward=dim_feedforward,
                                          dropout=dropout)
        self.ff = nn.Linear(embed_size, tgt_vocab_size)
        self._init_weights()

    def _init_weights(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                memory_key_padding_mask):
        src_emb = self.pos_enc(self.src_embedding(src))
        tgt_emb = self.pos_enc(self.tgt_embedding(trg))
        outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None, src_padding_mask,
                                tgt_padding_mask,
                                memory_key_padding_mask)
        return self.ff(outs)


def generate_square_subsequent_mask(size, device):
    mask = (torch.triu(torch.ones((size, size), device=device)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
    return mask


def create_mask(src, tgt, pad_idx, device):
    src_seq_len = src.shape[0]
    tgt_seq_len = tgt.shape[0]
    tgt_mask = generate_square_subsequent_mask(tgt_seq_len, device)
    src_mask = torch.zeros((src_seq_len, src_seq_len), device=device).type(torch.bool)
    src_padding_mask = (src == pad_idx).transpose(0, 1)
    tgt_padding_mask = (tgt == pad_idx).transpose(0, 1)
    return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask


special_symbols = {"<unk>": 0, "<pad>": 1, "<bos>": 2, "<eos>": 3}


def synthetic_pairs(n_batches, batch, vocab, seed):
    """Sequence-first padded batches: the target is the source sentence reversed, with a word
    mapping, between <bos> and <eos>; lengths vary so padding is real."""
    g = torch.Generator().manual_seed(seed)
    mapping = torch.randperm(vocab - 4, generator=g) + 4
    batches = []
    for _ in range(n_batches):
        lengths = torch.randint(4, 11, (batch,), generator=g)
        src = torch.full((12, batch), special_symbols["<pad>"])
        tgt = torch.full((13, batch), special_symbols["<pad>"])
        for j in range(batch):
            words = torch.randint(4, vocab, (int(lengths[j]),), generator=g)
            src[0, j] = special_symbols["<bos>"]
            src[1:1 + len(words), j] = words
            src[1 + len(words), j] = special_symbols["<eos>"]
            tgt[0, j] = special_symbols["<bos>"]
            tgt[1:1 + len(words), j] = mapping[words.flip(0) - 4]
            tgt[1 + len(words), j] = special_symbols["<eos>"]
        batches.append((src, tgt))
    return batches


def train(model, train_dl, loss_fn, optim, special_symbols, dry_run=False):
    losses = 0
    model.train()
    for src, tgt in train_dl:
        src = src.to(DEVICE)
        tgt = tgt.to(DEVICE)
        tgt_input = tgt[:-1, :]
        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(
            src, tgt_input, special_symbols["<pad>"], DEVICE)
        logits = model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                       src_padding_mask)
        optim.zero_grad()
        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        optim.step()
        losses += loss.item()
        if dry_run:
            break
    return losses / len(list(train_dl))


torch.manual_seed(0)
vocab = 60
train_dl = synthetic_pairs(40, 16, vocab, 0)
model = Translator(num_encoder_layers=2, num_decoder_layers=2, embed_size=32, num_heads=4,
                   src_vocab_size=vocab, tgt_vocab_size=vocab, dim_feedforward=64, dropout=0.1).to(DEVICE)
loss_fn = torch.nn.CrossEntropyLoss(ignore_index=special_symbols["<pad>"])
optim = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
for epoch in range(1, 31):
    train_loss = train(model, train_dl, loss_fn, optim, special_symbols)
    print(f"Epoch: {epoch} Train loss: {train_loss:.3f}")
'''
STEPS = 10
