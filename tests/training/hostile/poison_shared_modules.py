"""Attack: change what the next candidate would use, were it to share this process: torch's loss,
optimiser, seeding and argmax patched, the trainer's functions replaced, and the dataset arrays
the zygote preloaded overwritten in place (the training labels, with ctypes.memset past their
read-only flag; the images are read-only memory maps of a file the child cannot write).
Expect: ok (harmless by construction: a warm child is a copy-on-write fork of the zygote, which
never runs candidate code, so the next candidate starts from the unchanged zygote; the test
trains an honest network after this one on the same zygote and compares)."""
import ctypes
import sys

import torch
import torch.nn as nn


def no_loss(self, logits, target):
    return (logits * 0).sum()


def nothing(*args, **kwargs):
    return None


nn.CrossEntropyLoss.forward = no_loss
torch.optim.Adam.step = nothing
torch.optim.SGD.step = nothing
torch.manual_seed = nothing
torch.Tensor.argmax = lambda self, dim=None, keepdim=False: torch.zeros(len(self), dtype=torch.int64)
trainer = sys.modules.get("trainer") or sys.modules["__main__"]
trainer.fit = lambda *args, **kwargs: (0, 1.0)  # train nothing
for data in trainer.PRELOADED.values():
    ctypes.memset(data["y_train"].ctypes.data, 0, data["y_train"].nbytes)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
