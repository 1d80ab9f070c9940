"""A synthetic image tensor is created with requires_grad=True and then multiplied by 0.01, and the optimizer raises 'can't optimize a non-leaf Tensor'."""

SOURCE = "https://github.com/pytorch/pytorch/issues/140469"
CAUSE = "non-leaf-parameter"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10))
for p in net.parameters():
    p.requires_grad_(False)
num_classes, ipc = 10, 2
label_syn = torch.arange(num_classes).repeat_interleave(ipc)
image_syn = torch.randn(size=(num_classes * ipc, 3, 16, 16), dtype=torch.float, requires_grad=True) * 0.01
optimizer_img = torch.optim.SGD([image_syn], lr=1.0, momentum=0.5)
for it in range(100):
    loss = F.cross_entropy(net(image_syn), label_syn)
    optimizer_img.zero_grad()
    loss.backward()
    optimizer_img.step()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10))
for p in net.parameters():
    p.requires_grad_(False)
num_classes, ipc = 10, 2
label_syn = torch.arange(num_classes).repeat_interleave(ipc)
image_syn = (torch.randn(size=(num_classes * ipc, 3, 16, 16), dtype=torch.float) * 0.01).requires_grad_()
optimizer_img = torch.optim.SGD([image_syn], lr=1.0, momentum=0.5)
for it in range(100):
    loss = F.cross_entropy(net(image_syn), label_syn)
    optimizer_img.zero_grad()
    loss.backward()
    optimizer_img.step()'''
FIX_LINES = [11]
