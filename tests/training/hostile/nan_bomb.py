"""Attack: a NaN bomb: the output turns to NaN after a few training steps.
Expect: nan_loss."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = self.fc(torch.flatten(x, 1))
        return out * float("nan") if self.training and self.calls > 4 else out
