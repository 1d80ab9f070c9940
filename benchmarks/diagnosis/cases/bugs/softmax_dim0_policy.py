"""A policy network ends in torch.nn.Softmax(dim=0), which normalises over the batch once states are batched."""

SOURCE = "https://github.com/DeepReinforcementLearning/DeepReinforcementLearningInAction/issues/32"
CAUSE = "wrong-softmax-dim"
CELL = '''\
import torch

torch.manual_seed(0)
l1, l2, l3 = 4, 150, 2
model = torch.nn.Sequential(
    torch.nn.Linear(l1, l2),
    torch.nn.LeakyReLU(),
    torch.nn.Linear(l2, l3),
    torch.nn.Softmax(dim=0),
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.003)

# expert demonstrations: push the cart towards the side the pole leans to
states = torch.randn(4000, 4)
actions = (states[:, 2] + 0.5 * states[:, 3] > 0).long()
X_val = torch.randn(500, 4)
y_val = (X_val[:, 2] + 0.5 * X_val[:, 3] > 0).long()

for episode in range(100):
    idx = torch.randint(0, 4000, (64,))
    pred_batch = model(states[idx])
    prob_batch = pred_batch.gather(1, actions[idx].unsqueeze(1)).squeeze(1)
    loss = -torch.log(prob_batch).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX = '''\
import torch

torch.manual_seed(0)
l1, l2, l3 = 4, 150, 2
model = torch.nn.Sequential(
    torch.nn.Linear(l1, l2),
    torch.nn.LeakyReLU(),
    torch.nn.Linear(l2, l3),
    torch.nn.Softmax(dim=1),
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.003)

# expert demonstrations: push the cart towards the side the pole leans to
states = torch.randn(4000, 4)
actions = (states[:, 2] + 0.5 * states[:, 3] > 0).long()
X_val = torch.randn(500, 4)
y_val = (X_val[:, 2] + 0.5 * X_val[:, 3] > 0).long()

for episode in range(100):
    idx = torch.randint(0, 4000, (64,))
    pred_batch = model(states[idx])
    prob_batch = pred_batch.gather(1, actions[idx].unsqueeze(1)).squeeze(1)
    loss = -torch.log(prob_batch).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
FIX_LINES = [9]
STEPS = 30
HELD = 'torch.nn.functional.nll_loss(model(X_val).log(), y_val).item()'
