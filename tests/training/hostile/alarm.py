"""Attack: a signal handler trick: schedule SIGALRM (default action: terminate) mid-training.
Expect: crashed (the child is killed by SIGALRM; typed, with the signal's name)."""
import torch
import torch.nn as nn

signals = torch.utils.data._utils.signal_handling.signal


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        signals.setitimer(signals.ITIMER_REAL, 0.01)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        while True:
            x = x + 0
