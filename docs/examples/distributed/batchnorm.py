"""BatchNorm on a few examples per rank (NBG955, a note): each rank normalises over its own 4
examples. SyncBatchNorm (on GPUs) computes the statistics over every rank's batch; GroupNorm does
not depend on the batch at all.

    nbgrad check --nproc-per-node 2 batchnorm.py              # correct: GroupNorm
    nbgrad check --nproc-per-node 2 batchnorm.py -- --broken  # BatchNorm1d on 4 examples per rank
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main() -> None:
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(256, 8), torch.randn(256, 1))
    loader = DataLoader(data, batch_size=4, sampler=DistributedSampler(data))
    norm = nn.BatchNorm1d(32) if "--broken" in sys.argv else nn.GroupNorm(4, 32)
    model = nn.Sequential(nn.Linear(8, 32), norm, nn.ReLU(), nn.Linear(32, 1))
    if torch.cuda.is_available():
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # SyncBatchNorm runs on GPUs only
    model = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
