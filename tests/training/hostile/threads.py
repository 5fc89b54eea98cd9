"""Attack: threads (one daemon, one not) that outlive training: one tries to write the canary
folder two minutes later (after any wall-clock limit of the test), the other never ends, which
would keep an ordinary interpreter exit waiting forever.
Expect: ok (harmless by construction: the child ends with os._exit right after its result;
the writes are refused by Landlock; the group is killed after the exit)."""
import torch
import torch.nn as nn

threading = torch._guards.threading


def linger():
    threading.Event().wait(120)
    torch.ones(4).numpy().tofile("CANARY_DIR/late.bin")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        threading.Thread(target=linger, daemon=True).start()
        threading.Thread(target=threading.Event().wait).start()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
