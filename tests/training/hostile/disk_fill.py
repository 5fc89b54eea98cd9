"""Attack: fill the disk from inside the sandbox folder (writes there are allowed).
Expect: refused (RLIMIT_FSIZE: the write past the limit fails with EFBIG)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        block = bytes(2**20)
        with torch.serialization._open_file("fill.bin", "wb") as f:
            for _ in range(100000):
                f.write(block)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
