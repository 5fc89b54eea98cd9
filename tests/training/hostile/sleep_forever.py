"""Attack: block forever without using CPU (the CPU-time limit never fires).
Expect: timeout (the wall-clock limit kills the process group)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        torch._guards.threading.Event().wait()
        return self.fc(torch.flatten(x, 1))
