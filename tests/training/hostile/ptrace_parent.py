"""Attack: attach to the parent with ptrace (on the warm path the parent is the zygote, which
forks every later candidate; on the cold path the search process), calling libc's ptrace
through an address found without dlsym (libc's base in /proc/self/maps, the symbol's offset
in the library's own symbol table), so the audit hook sees nothing at all.
Expect: refused (Landlock: no ptrace of a process outside the sandbox's domain: EPERM).
Needs: landlock."""
import ctypes
import os
import struct

import torch
import torch.nn as nn

PTRACE_ATTACH = 16


def libc_function(wanted: bytes) -> int:
    with open("/proc/self/maps") as f:
        rows = [line.split() for line in f if "libc.so" in line]
    base = min(int(r[0].split("-")[0], 16) - int(r[2], 16) for r in rows)
    with open(rows[0][5], "rb") as f:
        elf = f.read()
    offset, = struct.unpack_from("<Q", elf, 0x28)
    size, count = struct.unpack_from("<HH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, offset + i * size) for i in range(count)]
    symbols = next(s for s in sections if s[1] == 11)  # the dynamic symbol table
    names = sections[symbols[6]][4]
    for at in range(symbols[4], symbols[4] + symbols[5], 24):
        name, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", elf, at)
        if elf[names + name:elf.index(b"\0", names + name)] == wanted and value:
            return base + value
    raise LookupError(wanted)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        ptrace = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p,
                                  use_errno=True)(libc_function(b"ptrace"))
        if ptrace(PTRACE_ATTACH, os.getppid(), None, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
