"""Attack: an endless busy loop once training has started, after ignoring SIGXCPU (the soft
CPU-time signal) through a module torch imported.
Expect: timeout (SIGKILL at the hard CPU limit, told from the OOM killer by the CPU time)."""
import torch
import torch.nn as nn

signals = torch.utils.data._utils.signal_handling.signal


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.training and self.calls > 3:
            signals.signal(signals.SIGXCPU, signals.SIG_IGN)
            while True:
                pass
        return self.fc(torch.flatten(x, 1))
