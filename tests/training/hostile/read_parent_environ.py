"""Attack: read the search process's environment (its API keys) from /proc/PPID/environ; the
child's own environment holds none.
Expect: refused (Landlock: /proc of other processes is not readable).
Needs: landlock."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        with torch.serialization._open_file("/proc/self/status", "rb") as f:
            status = f.read().decode()
        parent = [line.split()[1] for line in status.splitlines() if line.startswith("PPid:")][0]
        with torch.serialization._open_file("/proc/" + parent + "/environ", "rb") as f:
            raise ValueError(f.read().decode(errors="replace").replace("\x00", " ")[:290])

    def forward(self, x):
        return x
