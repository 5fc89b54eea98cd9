"""Attack: start a program (`os.posix_spawn` of touch) through `threading._os`, an `os` module
reached by an attribute name the static check does not forbid.
Expect: refused (the audit hook; Landlock also refuses executing any file)."""
import torch
import torch.nn as nn

native = torch._guards.threading._os


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        native.posix_spawn("/usr/bin/touch", ["touch", "CANARY_DIR/shell"], {})
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
