"""A reward-weighted log-likelihood loss is accumulated from log_probs[i, action].item() * discounted_reward, and the policy's gradients come back as None, so the weights never change."""

SOURCE = "https://github.com/isayev/ReLeaSE/issues/39"
CAUSE = "loss-rebuilt-from-item"
HELD_OUT = "2026-11-30"
CELL = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
eval_states = torch.randn(512, 8)
policy = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)

for episode in range(100):
    states = torch.randn(32, 8)
    actions = states[:, :4].argmax(1)  # the actions of rewarded demonstrations
    log_probs = F.log_softmax(policy(states), dim=1)
    rewards = 0.97 ** torch.arange(32.0)  # discounted along the trajectory
    rl_loss = torch.zeros(1, requires_grad=True)
    for i in range(32):
        rl_loss = rl_loss - log_probs[i, actions[i]].item() * rewards[i]
    rl_loss = rl_loss / 32
    optimizer.zero_grad()
    rl_loss.backward()
    optimizer.step()'''
FIX = '''\
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
eval_states = torch.randn(512, 8)
policy = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)

for episode in range(100):
    states = torch.randn(32, 8)
    actions = states[:, :4].argmax(1)  # the actions of rewarded demonstrations
    log_probs = F.log_softmax(policy(states), dim=1)
    rewards = 0.97 ** torch.arange(32.0)  # discounted along the trajectory
    rl_loss = torch.zeros(1, requires_grad=True)
    for i in range(32):
        rl_loss = rl_loss - log_probs[i, actions[i]] * rewards[i]
    rl_loss = rl_loss / 32
    optimizer.zero_grad()
    rl_loss.backward()
    optimizer.step()'''
FIX_LINES = [17]
STEPS = 40
HELD = "1 - (policy(eval_states).argmax(1) == eval_states[:, :4].argmax(1)).float().mean().item()"
