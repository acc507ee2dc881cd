"""A small, exactly repeatable training job for tests/test_distributed.py, run as one process (imported)
or as several (`python -m torch.distributed.run --nproc_per_node=2 -m tests.distributed_job ...` from the repository root).

64 fixed random 1x12x12 images of 4 classes, a network without batch norm or dropout (so that one
process with a batch of 2B and two processes with B each compute the same averaged gradient), plain
SGD, the examples in order.
"""

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import training


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 10 * 10, 4))


def dataset() -> TensorDataset:
    generator = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(64, 1, 12, 12, generator=generator), torch.randint(0, 4, (64,), generator=generator))


def run(batch_size: int, epochs: int, checkpoint, lr: float = 0.1) -> training.History:
    model = network()
    loader = DataLoader(dataset(), batch_size=batch_size, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return training.fit(model, loader, DataLoader(dataset(), batch_size=32), epochs=epochs, optimizer=optimizer,
                        device="cpu", checkpoint=checkpoint, progress=True, live=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="append", required=True, metavar="BATCH:EPOCHS:CHECKPOINT",
                        help="one training run; several run one after the other in the same processes")
    for spec in parser.parse_args().train:
        batch_size, epochs, checkpoint = spec.split(":", 2)
        run(int(batch_size), int(epochs), checkpoint)
