"""Ranks that take different numbers of steps (NBG953): the one with fewer batches leaves the
others waiting in DDP's all-reduce, a hang nbgrad reports instead of waiting for.

    nbgrad check --nproc-per-node 2 uneven_steps.py              # correct: DistributedSampler
    nbgrad check --nproc-per-node 2 uneven_steps.py -- --broken  # rank 1 gets 64 examples fewer
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset


def main() -> None:
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(160, 8), torch.randn(160, 1))
    if "--broken" in sys.argv:  # a split by hand: the last rank's share is shorter
        end = len(data) - 64 * rank
        loader = DataLoader(Subset(data, range(rank, end, world)), batch_size=16)
    else:
        loader = DataLoader(data, batch_size=16, sampler=DistributedSampler(data))
    model = DistributedDataParallel(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
