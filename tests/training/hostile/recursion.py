"""Attack: infinite recursion in forward.
Expect: shape_error (RecursionError while the output shape is checked)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.forward(x)
