"""Attack: kill the parent (on the warm path the zygote, which forks every later candidate; on
the cold path the search process) through a pidfd: os.pidfd_open and signal.pidfd_send_signal
raise no audit event, so the hook never sees it.
Expect: refused (Landlock's signal scope: no signal to a process outside the sandbox: EPERM).
Needs: landlock signals."""
import os
import signal

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        parent = os.pidfd_open(os.getppid())
        signal.pidfd_send_signal(parent, signal.SIGKILL)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
