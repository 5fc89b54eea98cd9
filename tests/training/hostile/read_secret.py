"""Attack: read a secret file of the user (here the canary folder's secret.txt) and smuggle it
into the failure detail, which goes back to the Designer (possibly a remote API).
Expect: refused (Landlock: only the Python installation and system libraries are readable).
Needs: landlock."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        with torch.serialization._open_file("CANARY_DIR/secret.txt", "rb") as f:
            raise ValueError(f.read().decode())

    def forward(self, x):
        return x
