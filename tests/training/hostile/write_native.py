"""Attack: write a file outside the sandbox with torch's native zip writer, which opens the
file in C++ (the audit hook sees no `open` event).
Expect: refused (Landlock refuses the open: EACCES).
Needs: landlock."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.serialization._open_zipfile_writer("CANARY_DIR/owned.pt").file_like.write_record("x", b"owned", 5)
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
