"""Attack: poison the report cache: write `../report.json` (the saved report of this candidate,
one folder above the sandbox) natively, so a resumed run would read a forged accuracy.
Expect: refused (Landlock: the sandbox folder is the only writable one).
Needs: landlock."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.serialization._open_zipfile_writer("../report.json").file_like.write_record("x", b"{}", 2)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
