"""Attack: kill the search process: the `os` module reached as `threading._os` (not a forbidden
attribute name), the parent's pid from os.getppid, the refusal swallowed.
Expect: refused (the audit hook records os.kill even when the candidate catches it; Landlock's
signal scope refuses it in the kernel too)."""
import torch
import torch.nn as nn

native = torch._guards.threading._os


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        try:
            native.kill(native.getppid(), 9)
        except Exception:
            pass
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
