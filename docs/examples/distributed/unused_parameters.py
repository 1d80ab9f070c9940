"""A parameter that gets no gradient under DistributedDataParallel (NBG954): DDP waits for its
gradient and refuses the next iteration ("Expected to have finished reduction ...").

    nbgrad check --nproc-per-node 2 unused_parameters.py              # correct: every layer used
    nbgrad check --nproc-per-node 2 unused_parameters.py -- --broken  # the auxiliary head is unused
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.head = nn.Linear(32, 1)
        self.aux = nn.Linear(32, 1)  # an auxiliary head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if "--broken" in sys.argv:
            return self.head(h)  # aux takes no part in the loss
        return self.head(h) + 0.1 * self.aux(h)


def main() -> None:
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(512, 8), torch.randn(512, 1))
    loader = DataLoader(data, batch_size=32, sampler=DistributedSampler(data))
    model = DistributedDataParallel(TwoHeads())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
