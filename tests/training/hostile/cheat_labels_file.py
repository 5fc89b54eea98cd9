"""Attack: cheat the metric from the file system: job.json (readable, in the sandbox folder)
names the label-free view of the data (`<cache>.inputs/`), and the full cache folder with the
held-out labels lies beside it (`<cache>/y_val.npy`, `<cache>/y_test.npy`).  Read them (with
torch's own file opener) and answer them in order.
Expect: refused (Landlock: of the data folders only the label-free view is readable).
Needs: landlock."""
import torch
import torch.nn as nn


def labels(path):
    with torch.serialization._open_file(path, "rb") as f:
        blob = f.read()
    start = 10 + blob[8] + 256 * blob[9]  # .npy version 1: magic, version, header length, header
    return torch.frombuffer(bytearray(blob[start:]), dtype=torch.int64)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        with torch.serialization._open_file("job.json", "r") as f:
            job = f.read()
        inputs = job.split('"data": "')[1].split('"')[0]
        full = inputs[:-len(".inputs")]
        self.answers = [labels(full + "/y_val.npy"), labels(full + "/y_test.npy")]
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.trained = False

    def forward(self, x):
        if self.training:
            self.trained = True
        elif self.trained and self.answers:
            return 100.0 * nn.functional.one_hot(self.answers.pop(0)[:len(x)], 10).float()
        return self.fc(torch.flatten(x, 1))
