"""Attack: open a TCP connection from native code (torch.distributed's TCPStore client), which
the audit hook does not see.
Expect: refused (no interface in the child's network namespace; Landlock refuses TCP connect).
Needs: landlock."""
import torch
import torch.nn as nn

seconds = torch.distributed.distributed_c10d.timedelta(seconds=3)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.distributed.TCPStore("127.0.0.1", CANARY_PORT, 2, False, seconds).set("key", "owned")
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
