"""A two-layer graph attention network on a Cora-shaped graph (dense adjacency)."""
SOURCE = "https://github.com/pytorch/examples/blob/main/gat/main.py"
PROGRAM = "pytorch/examples: GAT"
CELL = '''
import torch
from torch import nn
import torch.nn.functional as F
from torch.optim import Adam


class GraphAttentionLayer(nn.Module):
    def __init__(self, in_features, out_features, n_heads, concat=False, dropout=0.4, leaky_relu_slope=0.2):
        super(GraphAttentionLayer, self).__init__()
        self.n_heads = n_heads
        self.concat = concat
        self.dropout = dropout
        if concat:
            self.out_features = out_features
            assert out_features % n_heads == 0
            self.n_hidden = out_features // n_heads
        else:
            self.n_hidden = out_features
        self.W = nn.Parameter(torch.empty(size=(in_features, self.n_hidden * n_heads)))
        self.a = nn.Parameter(torch.empty(size=(n_heads, 2 * self.n_hidden, 1)))
        self.leakyrelu = nn.LeakyReLU(leaky_relu_slope)
        self.softmax = nn.Softmax(dim=1)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_normal_(self.W)
        nn.init.xavier_normal_(self.a)

    def _get_attention_scores(self, h_transformed):
        source_scores = torch.matmul(h_transformed, self.a[:, :self.n_hidden, :])
        target_scores = torch.matmul(h_transformed, self.a[:, self.n_hidden:, :])
        e = source_scores + target_scores.mT
        return self.leakyrelu(e)

    def forward(self, h, adj_mat):
        n_nodes = h.shape[0]
        h_transformed = torch.mm(h, self.W)
        h_transformed = F.dropout(h_transformed, self.dropout, training=self.training)
        h_transformed = h_transformed.view(n_nodes, self.n_heads, self.n_hidden).permute(1, 0, 2)
        e = self._get_attention_scores(h_transformed)
        connectivity_mask = -9e16 * torch.ones_like(e)
        e = torch.where(adj_mat > 0, e, connectivity_mask)
        attention = F.softmax(e, dim=-1)
        attention = F.dropout(attention, self.dropout, training=self.training)
        h_prime = torch.matmul(attention, h_transformed)
        if self.concat:
            h_prime = h_prime.permute(1, 0, 2).contiguous().view(n_nodes, self.out_features)
        else:
            h_prime = h_prime.mean(dim=0)
        return h_prime


class GAT(nn.Module):
    def __init__(self, in_features, n_hidden, n_heads, num_classes, concat=False, dropout=0.4,
                 leaky_relu_slope=0.2):
        super(GAT, self).__init__()
        self.gat1 = GraphAttentionLayer(in_features=in_features, out_features=n_hidden, n_heads=n_heads,
                                        concat=concat, dropout=dropout, leaky_relu_slope=leaky_relu_slope)
        self.gat2 = GraphAttentionLayer(in_features=n_hidden, out_features=num_classes, n_heads=1,
                                        concat=False, dropout=dropout, leaky_relu_slope=leaky_relu_slope)

    def forward(self, input_tensor, adj_mat):
        x = self.gat1(input_tensor, adj_mat)
        x = F.elu(x)
        x = self.gat2(x, adj_mat)
        return F.log_softmax(x, dim=1)


def synthetic_cora(n_nodes=300, n_words=200, n_classes=7, seed=0):
    """Cora's format: row-scaled bag-of-words features and a dense adjacency with self-loops."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (n_nodes,), generator=g)
    word_class = torch.randint(0, n_classes, (n_words,), generator=g)
    p = torch.where(word_class[None, :] == labels[:, None], 0.1, 0.01)
    features = (torch.rand(n_nodes, n_words, generator=g) < p).float()
    scale_vector = 1 / torch.sum(features, dim=1)
    scale_vector[scale_vector == float('inf')] = 0
    features = torch.diag(scale_vector).to_sparse() @ features
    src = torch.randint(0, n_nodes, (4 * n_nodes,), generator=g)
    candidates = torch.randint(0, n_nodes, (4 * n_nodes, 30), generator=g)
    match = (labels[candidates] == labels[src][:, None]).float().argmax(1)
    dst = candidates[torch.arange(4 * n_nodes), match]
    E = src.numel()
    adj_mat = torch.sparse_coo_tensor(torch.stack([src, dst]), torch.ones(E), (n_nodes, n_nodes),
                                      dtype=torch.int64)
    adj_mat = torch.eye(n_nodes) + adj_mat
    return features, labels, adj_mat


def train_iter(epoch, model, optimizer, criterion, input, target, mask_train, mask_val, print_every=10):
    model.train()
    optimizer.zero_grad()
    output = model(*input)
    loss = criterion(output[mask_train], target[mask_train])
    loss.backward()
    optimizer.step()
    loss_train, acc_train = test(model, criterion, input, target, mask_train)
    loss_val, acc_val = test(model, criterion, input, target, mask_val)
    if epoch % print_every == 0:
        print(f'Epoch: {epoch:04d} loss_train: {loss_train:.4f} acc_train: {acc_train:.4f} '
              f'loss_val: {loss_val:.4f} acc_val: {acc_val:.4f}')


def test(model, criterion, input, target, mask):
    model.eval()
    with torch.no_grad():
        output = model(*input)
        output, target = output[mask], target[mask]
        loss = criterion(output, target)
        acc = (output.argmax(dim=1) == target).float().sum() / len(target)
    return loss.item(), acc.item()


if __name__ == '__main__':
    epochs, lr, l2, dropout_p, hidden_dim, num_heads, val_every = 300, 0.005, 5e-4, 0.6, 64, 8, 20
    torch.manual_seed(13)
    features, labels, adj_mat = synthetic_cora()
    idx = torch.randperm(len(labels))
    idx_test, idx_val, idx_train = idx[:100], idx[100:150], idx[150:]
    gat_net = GAT(in_features=features.shape[1], n_hidden=hidden_dim, n_heads=num_heads,
                  num_classes=labels.max().item() + 1, concat=False, dropout=dropout_p, leaky_relu_slope=0.2)
    optimizer = Adam(gat_net.parameters(), lr=lr, weight_decay=l2)
    criterion = nn.NLLLoss()
    for epoch in range(epochs):
        train_iter(epoch + 1, gat_net, optimizer, criterion, (features, adj_mat), labels, idx_train, idx_val,
                   val_every)
    loss_test, acc_test = test(gat_net, criterion, (features, adj_mat), labels, idx_test)
    print(f'Test set results: loss {loss_test:.4f} accuracy {acc_test:.4f}')
'''
STEPS = 10
