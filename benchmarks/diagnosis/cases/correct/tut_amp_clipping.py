"""The AMP recipe with scaler.unscale_ then clip_grad_norm_(0.1) (bf16 autocast on CPU)."""
SOURCE = "https://github.com/pytorch/tutorials/blob/main/recipes_source/recipes/amp_recipe.py"
PROGRAM = "PyTorch recipes: automatic mixed precision (unscale_ and clip)"
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
true_map = torch.randn(in_size, out_size) / in_size ** 0.5
data = [torch.randn(batch_size, in_size, device=device) for _ in range(num_batches)]
targets = [x @ true_map for x in data]
loss_fn = torch.nn.MSELoss()
net = make_model(in_size, out_size, num_layers)
opt = torch.optim.SGD(net.parameters(), lr=0.001)
scaler = torch.amp.GradScaler(device)

for epoch in range(epochs):
    for input, target in zip(data, targets):
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            output = net(input)
            loss = loss_fn(output, target)
        scaler.scale(loss).backward()
        # Unscales the gradients of optimizer's assigned params in-place
        scaler.unscale_(opt)
        # Since the gradients of optimizer's assigned params are now unscaled, clips as usual.
        torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=0.1)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
'''
STEPS = 10
