"""Accelerate gradient accumulation (accelerator.accumulate, 2 micro-batches) on a regression MLP."""
SOURCE = "https://huggingface.co/docs/accelerate/usage_guides/gradient_accumulation"
PROGRAM = "Hugging Face Accelerate docs: gradient accumulation (accelerator.accumulate)"
CELL = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from accelerate import Accelerator

torch.manual_seed(0)
x = torch.randn(1024, 16)
y = (x[:, :4].sum(1, keepdim=True) - x[:, 4:8].sum(1, keepdim=True)) + 0.1 * torch.randn(1024, 1)
training_dataloader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
loss_function = nn.MSELoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=500)

accelerator = Accelerator(gradient_accumulation_steps=2, cpu=True)
model, optimizer, training_dataloader, scheduler = accelerator.prepare(
    model, optimizer, training_dataloader, scheduler
)

for batch in training_dataloader:
    with accelerator.accumulate(model):
        inputs, targets = batch
        outputs = model(inputs)
        loss = loss_function(outputs, targets)
        accelerator.backward(loss)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
'''
STEPS = 10
