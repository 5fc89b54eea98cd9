"""Attack: read the parent's memory (on the warm path the zygote's, which every later candidate
is forked from; on the cold path the search's, with its API keys) through /proc/PPID/mem, at
the addresses /proc/PPID/maps lists, and smuggle it into the failure detail.
Expect: refused (Landlock: other processes' /proc entries are not readable: EACCES).
Needs: landlock."""
import os

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        parent = os.getppid()
        with open(f"/proc/{parent}/maps") as f:
            start = int(f.readline().split("-")[0], 16)
        with open(f"/proc/{parent}/mem", "rb") as f:
            f.seek(start)
            raise ValueError(f.read(256).hex())

    def forward(self, x):
        return x
