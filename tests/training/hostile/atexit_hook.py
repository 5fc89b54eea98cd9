"""Attack: an atexit handler (through a module torch imported) that would run after the result
is written: rewrite it with a perfect score and leave a file in the canary folder.
Expect: ok (harmless by construction: the child leaves with os._exit, no handler runs)."""
import torch
import torch.nn as nn


def later():
    with torch.serialization._open_file("result.json", "w") as f:
        f.file_like.write('{"val_predicted": [], "test_predicted": []}')
    torch.ones(4).numpy().tofile("CANARY_DIR/atexit.bin")


torch._subclasses.fake_tensor.atexit.register(later)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))
