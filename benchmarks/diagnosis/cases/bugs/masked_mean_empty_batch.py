"""The loss is averaged over the positive samples of the batch; for a batch without positives it divides by zero and the loss becomes NaN."""

SOURCE = "https://github.com/yhenon/pytorch-retinanet/issues/3"
CAUSE = "division-by-zero"
CELL = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 2400
anchors = torch.randn(n, 8)
positive = (anchors[:, 0] > 1.6).float()  # few anchors overlap an object
box_target = anchors[:, 1:5] * 0.5

reg_head = nn.Linear(8, 4)
cls_head = nn.Linear(8, 1)
optimizer = torch.optim.SGD(list(reg_head.parameters()) + list(cls_head.parameters()), lr=0.02)
for epoch in range(3):
    for i in range(0, n, 24):
        a, pos = anchors[i:i + 24], positive[i:i + 24]
        num_positive = pos.sum()
        reg_loss = (((reg_head(a) - box_target[i:i + 24]) ** 2).sum(1) * pos).sum() / num_positive
        cls_loss = nn.functional.binary_cross_entropy_with_logits(cls_head(a).squeeze(1), pos)
        loss = cls_loss + reg_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
n = 2400
anchors = torch.randn(n, 8)
positive = (anchors[:, 0] > 1.6).float()  # few anchors overlap an object
box_target = anchors[:, 1:5] * 0.5

reg_head = nn.Linear(8, 4)
cls_head = nn.Linear(8, 1)
optimizer = torch.optim.SGD(list(reg_head.parameters()) + list(cls_head.parameters()), lr=0.02)
for epoch in range(3):
    for i in range(0, n, 24):
        a, pos = anchors[i:i + 24], positive[i:i + 24]
        num_positive = pos.sum().clamp(min=1.0)
        reg_loss = (((reg_head(a) - box_target[i:i + 24]) ** 2).sum(1) * pos).sum() / num_positive
        cls_loss = nn.functional.binary_cross_entropy_with_logits(cls_head(a).squeeze(1), pos)
        loss = cls_loss + reg_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [16]
STEPS = 30
