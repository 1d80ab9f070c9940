"""With the learning rate initialised to 1e-5 the convergence is very slow: days of training and the loss hardly moves."""

SOURCE = "https://github.com/lucasjinreal/keras_frcnn/issues/76"
CAUSE = "lr-too-small"
CELL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.rand(600, 3, 16, 16) * 0.5
has_object = torch.randint(0, 2, (600,))
images[has_object == 1, 0, 4:12, 4:12] += 0.5  # a red object in the middle

rpn = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(32, 2),
)
optimizer = torch.optim.SGD(rpn.parameters(), lr=1e-5, momentum=0.9)
for epoch in range(10):
    for i in range(0, 600, 20):
        loss = F.cross_entropy(rpn(images[i:i + 20]), has_object[i:i + 20])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
images = torch.rand(600, 3, 16, 16) * 0.5
has_object = torch.randint(0, 2, (600,))
images[has_object == 1, 0, 4:12, 4:12] += 0.5  # a red object in the middle

rpn = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(32, 2),
)
optimizer = torch.optim.SGD(rpn.parameters(), lr=1e-1, momentum=0.9)
for epoch in range(10):
    for i in range(0, 600, 20):
        loss = F.cross_entropy(rpn(images[i:i + 20]), has_object[i:i + 20])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()'''
FIX_LINES = [15]
STEPS = 30
