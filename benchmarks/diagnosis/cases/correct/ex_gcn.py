"""A two-layer GCN on a Cora-shaped graph with sparse features and sparse adjacency."""
SOURCE = "https://github.com/pytorch/examples/blob/main/gcn/main.py"
PROGRAM = "pytorch/examples: GCN"
CELL = '''
import time

import torch
from torch import nn
import torch.nn.functional as F
from torch.optim import Adam


class GraphConv(nn.Module):
    def __init__(self, input_dim, output_dim, use_bias=False):
        super(GraphConv, self).__init__()
        self.kernel = nn.Parameter(torch.Tensor(input_dim, output_dim))
        nn.init.xavier_normal_(self.kernel)
        self.bias = None
        if use_bias:
            self.bias = nn.Parameter(torch.Tensor(output_dim))
            nn.init.zeros_(self.bias)

    def forward(self, input_tensor, adj_mat):
        support = torch.mm(input_tensor, self.kernel)
        output = torch.spmm(adj_mat, support)
        if self.bias is not None:
            output = output + self.bias
        return output


class GCN(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, use_bias=True, dropout_p=0.1):
        super(GCN, self).__init__()
        self.gc1 = GraphConv(input_dim, hidden_dim, use_bias=use_bias)
        self.gc2 = GraphConv(hidden_dim, output_dim, use_bias=use_bias)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input_tensor, adj_mat):
        x = self.gc1(input_tensor, adj_mat)
        x = F.relu(x)
        x = self.dropout(x)
        x = self.gc2(x, adj_mat)
        return F.log_softmax(x, dim=1)


def synthetic_cora(n_nodes=600, n_words=400, n_classes=7, seed=0):
    """Cora's format: binary bag-of-words features (class-specific words more likely), citations
    mostly within a class; then load_cora's row scaling and renormalisation trick, kept sparse."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (n_nodes,), generator=g)
    word_class = torch.randint(0, n_classes, (n_words,), generator=g)
    p = torch.where(word_class[None, :] == labels[:, None], 0.08, 0.01)
    features = (torch.rand(n_nodes, n_words, generator=g) < p).float()
    src = torch.randint(0, n_nodes, (4 * n_nodes,), generator=g)
    same = torch.rand(4 * n_nodes, generator=g) < 0.8
    candidates = torch.randint(0, n_nodes, (4 * n_nodes, 30), generator=g)
    match = labels[candidates] == labels[src][:, None]
    pick_same = candidates[torch.arange(4 * n_nodes), match.float().argmax(1)]
    dst = torch.where(same, pick_same, candidates[:, 0])
    edges = torch.stack([src, dst])

    scale_vector = torch.sum(features, dim=1)
    scale_vector = 1 / scale_vector
    scale_vector[scale_vector == float('inf')] = 0
    scale_vector = torch.diag(scale_vector).to_sparse()
    features = scale_vector @ features

    V, E = n_nodes, edges.shape[1]
    adj_mat = torch.sparse_coo_tensor(edges, torch.ones(E), (V, V), dtype=torch.int64)
    adj_mat = torch.eye(V) + adj_mat
    degree_mat = torch.sum(adj_mat, dim=1)
    degree_mat = torch.sqrt(1 / degree_mat)
    degree_mat[degree_mat == float('inf')] = 0
    degree_mat = torch.diag(degree_mat).to_sparse()
    adj_mat = degree_mat @ adj_mat @ degree_mat
    return features.to_sparse(), labels, adj_mat.to_sparse()


def train_iter(epoch, model, optimizer, criterion, input, target, mask_train, mask_val, print_every=10):
    start_t = time.time()
    model.train()
    optimizer.zero_grad()
    output = model(*input)
    loss = criterion(output[mask_train], target[mask_train])
    loss.backward()
    optimizer.step()
    loss_train, acc_train = test(model, criterion, input, target, mask_train)
    loss_val, acc_val = test(model, criterion, input, target, mask_val)
    if epoch % print_every == 0:
        print(f'Epoch: {epoch:04d} ({(time.time() - start_t):.4f}s) loss_train: {loss_train:.4f} '
              f'acc_train: {acc_train:.4f} loss_val: {loss_val:.4f} acc_val: {acc_val:.4f}')


def test(model, criterion, input, target, mask):
    model.eval()
    with torch.no_grad():
        output = model(*input)
        output, target = output[mask], target[mask]
        loss = criterion(output, target)
        acc = (output.argmax(dim=1) == target).float().sum() / len(target)
    return loss.item(), acc.item()


if __name__ == '__main__':
    epochs, lr, l2, dropout_p, hidden_dim, val_every, include_bias = 200, 0.01, 5e-4, 0.5, 16, 20, False
    torch.manual_seed(42)
    features, labels, adj_mat = synthetic_cora()
    idx = torch.randperm(len(labels))
    idx_test, idx_val, idx_train = idx[:200], idx[200:300], idx[300:]
    gcn = GCN(features.shape[1], hidden_dim, labels.max().item() + 1, include_bias, dropout_p)
    optimizer = Adam(gcn.parameters(), lr=lr, weight_decay=l2)
    criterion = nn.NLLLoss()
    for epoch in range(epochs):
        train_iter(epoch + 1, gcn, optimizer, criterion, (features, adj_mat), labels, idx_train, idx_val,
                   val_every)
    loss_test, acc_test = test(gcn, criterion, (features, adj_mat), labels, idx_test)
    print(f'Test set results: loss {loss_test:.4f} accuracy {acc_test:.4f}')
'''
STEPS = 10
