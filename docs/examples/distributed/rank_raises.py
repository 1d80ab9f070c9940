"""One rank raises (NBG953): nbgrad stops the other ranks, which would wait for it in DDP's
all-reduce until the collective's timeout, and reports where each rank was.

    nbgrad check --nproc-per-node 2 rank_raises.py              # correct
    nbgrad check --nproc-per-node 2 rank_raises.py -- --broken  # rank 1 raises at its third batch
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def check_batch(x: torch.Tensor, index: int) -> None:
    if "--broken" in sys.argv and dist.get_rank() == 1 and index == 2:
        raise ValueError(f"batch {index} of rank 1 is corrupt")


def main() -> None:
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(512, 8), torch.randn(512, 1))
    sampler = DistributedSampler(data)
    loader = DataLoader(data, batch_size=32, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for index, (x, y) in enumerate(loader):
        check_batch(x, index)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
