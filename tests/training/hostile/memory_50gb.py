"""Attack: one 50 GB tensor.
Expect: oom (RLIMIT_AS: the allocator fails)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hoard = torch.ones(50 * 2**30 // 4)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
