"""The AMP recipe: autocast (bf16 on CPU) and GradScaler around a Linear-ReLU stack."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/recipes_source/recipes/amp_recipe.py"
PROGRAM = "PyTorch recipes: automatic mixed precision"
CELL = '''
import torch

torch.manual_seed(0)
device = "cpu"


def make_model(in_size, out_size, num_layers):
    layers = []
    for _ in range(num_layers - 1):
        layers.append(torch.nn.Linear(in_size, in_size))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear(in_size, out_size))
    return torch.nn.Sequential(*tuple(layers)).to(device)


batch_size, in_size, out_size, num_layers, num_batches, epochs = 128, 256, 256, 3, 20, 3
# the recipe's targets are pure noise; here a fixed linear map of the inputs, so there is something to learn
true_map = torch.randn(in_size, out_size) / in_size ** 0.5
data = [torch.randn(batch_size, in_size, device=device) for _ in range(num_batches)]
targets = [x @ true_map for x in data]
loss_fn = torch.nn.MSELoss()

use_amp = True
net = make_model(in_size, out_size, num_layers)
opt = torch.optim.SGD(net.parameters(), lr=0.001)
scaler = torch.amp.GradScaler(device, enabled=use_amp)

for epoch in range(epochs):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_amp):
            output = net(input)
            loss = loss_fn(output, target)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
'''
STEPS = 10
