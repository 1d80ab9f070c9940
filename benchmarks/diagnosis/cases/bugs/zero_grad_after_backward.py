"""In the training loop optimizer.zero_grad() is called after accelerator.backward(loss) and before optimizer.step(), so the step sees no gradient."""

SOURCE = "https://github.com/cloneofsimo/lora/issues/263"
CAUSE = "zero-grad-before-step"
CELL = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
base = torch.nn.Linear(32, 32)
for p in base.parameters():
    p.requires_grad_(False)
lora_down = torch.nn.Linear(32, 4, bias=False)
lora_up = torch.nn.Linear(4, 32, bias=False)
torch.nn.init.zeros_(lora_up.weight)
params = list(lora_down.parameters()) + list(lora_up.parameters())
optimizer = torch.optim.AdamW(params, lr=3e-2)
lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)

style = torch.randn(32, 4) @ torch.randn(4, 32) * 0.3
X_val = torch.randn(256, 32)
for step in range(200):
    x = torch.randn(16, 32)
    target = base(x) + x @ style
    loss = F.mse_loss(base(x) + lora_up(lora_down(x)), target)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    lr_scheduler.step()'''
FIX = '''\
import torch
import torch.nn.functional as F

torch.manual_seed(0)
base = torch.nn.Linear(32, 32)
for p in base.parameters():
    p.requires_grad_(False)
lora_down = torch.nn.Linear(32, 4, bias=False)
lora_up = torch.nn.Linear(4, 32, bias=False)
torch.nn.init.zeros_(lora_up.weight)
params = list(lora_down.parameters()) + list(lora_up.parameters())
optimizer = torch.optim.AdamW(params, lr=3e-2)
lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)

style = torch.randn(32, 4) @ torch.randn(4, 32) * 0.3
X_val = torch.randn(256, 32)
for step in range(200):
    x = torch.randn(16, 32)
    target = base(x) + x @ style
    loss = F.mse_loss(base(x) + lora_up(lora_down(x)), target)
    loss.backward()
    optimizer.step()
    lr_scheduler.step()
    optimizer.zero_grad()'''
FIX_LINES = [22, 24]
STEPS = 30
HELD = 'F.mse_loss(lora_up(lora_down(X_val)), X_val @ style).item()'
