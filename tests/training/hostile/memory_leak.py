"""Attack: a slow leak: every forward pass keeps another 64 MB, so the network builds and
starts training before memory runs out.
Expect: oom (RLIMIT_AS)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.hoard = []

    def forward(self, x):
        self.hoard.append(torch.ones(2**24))
        return self.fc(torch.flatten(x, 1))
