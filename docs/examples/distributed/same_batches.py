"""Every rank trains on the same batches (NBG952) when the DataLoader has no DistributedSampler.

    nbgrad check --nproc-per-node 2 same_batches.py             # correct: DistributedSampler
    nbgrad check --nproc-per-node 2 same_batches.py -- --broken # every rank reads all the data
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    broken = "--broken" in sys.argv
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.manual_seed(0)  # the same data and weights on every rank
    data = TensorDataset(torch.randn(512, 8), torch.randn(512, 1))
    if broken:
        loader = DataLoader(data, batch_size=32, shuffle=True)  # the same order on every rank
    else:
        sampler = DistributedSampler(data)
        loader = DataLoader(data, batch_size=32, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(3):
        if not broken:
            sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
