"""Attack: write a file outside the sandbox through a numpy round trip (`Tensor.numpy().tofile`).
Expect: refused (the audit hook's `open` event; Landlock too)."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.ones(4).numpy().tofile("CANARY_DIR/owned.bin")
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
