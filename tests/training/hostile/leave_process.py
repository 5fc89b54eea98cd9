"""Attack: leave a process behind: `_posixsubprocess.fork_exec` (the audit hook sees no event for
it in Python 3.11) forks a child that leaves the sandbox's process group (setsid, so the group
kill misses it) and runs Python in its preexec_fn: two minutes later, after any limit of the
test, it writes the canary folder; the child that forked it exits normally.
Expect: refused (seccomp: no new process: EPERM; on the warm path the zygote, a subreaper,
would also kill what a child leaves behind).
Needs: seccomp."""
import os
import time

import _posixsubprocess
import torch
import torch.nn as nn


def linger():
    time.sleep(120)
    torch.ones(4).numpy().tofile("CANARY_DIR/lingered.bin")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # Python 3.11's and 3.12's signature; 3.13 dropped the last argument (allow_vfork)
        arguments = [[b"/bin/true"], [b"/bin/true"], True, (), None, None, -1, -1, -1, -1, -1, -1, *os.pipe(),
                     True, True, -1, None, None, -1, -1, linger, False]
        try:
            _posixsubprocess.fork_exec(*arguments)
        except TypeError:
            _posixsubprocess.fork_exec(*arguments[:-1])
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
